-- Monthly cohort retention: for each cohort (month of first purchase), the share of its customers buying again N months later.
WITH firsts AS (
    SELECT customer_id, date_trunc('month', min(order_date)) AS cohort
    FROM fact_sales
    WHERE customer_id <> 0
    GROUP BY customer_id
), activity AS (
    SELECT DISTINCT s.customer_id, f.cohort,
           (date_part('year', s.order_date) - date_part('year', f.cohort)) * 12
             + date_part('month', s.order_date) - date_part('month', f.cohort) AS months_after
    FROM fact_sales s
    JOIN firsts f ON f.customer_id = s.customer_id
), sizes AS (
    SELECT cohort, count(*) AS cohort_size FROM firsts GROUP BY cohort
)
SELECT to_char(a.cohort, '%Y-%m') AS cohort,
       z.cohort_size,
       CAST(a.months_after AS INT) AS months_after,
       count(*) AS active_customers,
       round(100.0 * count(*) / z.cohort_size, 2) AS retention_pct
FROM activity a
JOIN sizes z ON z.cohort = a.cohort
GROUP BY a.cohort, z.cohort_size, a.months_after
ORDER BY cohort, months_after
