-- New versus returning customers per month: customers, orders, revenue and revenue per customer (new = first purchase in that month).
WITH firsts AS (
    SELECT customer_id, min(order_date) AS first_order
    FROM fact_sales
    WHERE customer_id <> 0
    GROUP BY customer_id
), monthly AS (
    SELECT date_trunc('month', s.order_date) AS month_start,
           CASE WHEN date_trunc('month', f.first_order) = date_trunc('month', s.order_date)
                THEN 'new' ELSE 'returning' END AS customer_status,
           s.customer_id,
           s.order_id,
           s.revenue
    FROM fact_sales s
    JOIN firsts f ON f.customer_id = s.customer_id
)
SELECT to_char(month_start, '%Y-%m') AS year_month,
       customer_status,
       count(DISTINCT customer_id) AS customers,
       count(DISTINCT order_id) AS orders,
       sum(revenue) AS revenue,
       round(CAST(sum(revenue) AS DOUBLE) / count(DISTINCT customer_id), 2) AS revenue_per_customer
FROM monthly
GROUP BY month_start, customer_status
ORDER BY year_month, customer_status
