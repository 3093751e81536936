-- Top 50 customers by revenue with margin, share of total and cumulative share (Pareto 80/20), and ABC class (A: first 80% of revenue, B: next 15%, C: the rest).
WITH per_customer AS (
    SELECT customer_id, sum(revenue) AS revenue, sum(revenue - cost) AS margin
    FROM fact_sales
    WHERE customer_id <> 0
    GROUP BY customer_id
), ranked AS (
    SELECT customer_id,
           revenue,
           margin,
           rank() OVER (ORDER BY revenue DESC, customer_id) AS revenue_rank,
           rank() OVER (ORDER BY margin DESC, customer_id) AS margin_rank,
           CAST(revenue AS DOUBLE) / CAST(sum(revenue) OVER () AS DOUBLE) AS revenue_share,
           CAST(sum(revenue) OVER (ORDER BY revenue DESC, customer_id ROWS UNBOUNDED PRECEDING) AS DOUBLE)
             / CAST(sum(revenue) OVER () AS DOUBLE) AS cumulative_share,
           CAST(row_number() OVER (ORDER BY revenue DESC, customer_id) AS DOUBLE)
             / CAST(count(*) OVER () AS DOUBLE) AS customer_share
    FROM per_customer
)
SELECT r.revenue_rank,
       r.customer_id,
       c.name,
       c.city,
       r.revenue,
       r.margin,
       r.margin_rank,
       round(100 * r.revenue_share, 3) AS revenue_share_pct,
       round(100 * r.cumulative_share, 2) AS cumulative_share_pct,
       round(100 * r.customer_share, 2) AS customer_share_pct,
       CASE WHEN r.cumulative_share - r.revenue_share < 0.80 THEN 'A'
            WHEN r.cumulative_share - r.revenue_share < 0.95 THEN 'B'
            ELSE 'C' END AS abc_class
FROM ranked r
JOIN dim_customer c ON c.customer_id = r.customer_id AND c.is_current
WHERE r.revenue_rank <= 50
ORDER BY r.revenue_rank, r.customer_id
