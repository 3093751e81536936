-- Monthly cohort retention: for each cohort (month of first purchase), the share of its customers buying again N months later.
-- One pass over the sales: the distinct buying months of each customer, the first of them as
-- the cohort (a window, not a second scan), and the cohort size as its month-0 count (every
-- customer buys in their cohort month).
WITH months AS (
    SELECT DISTINCT customer_id, date_trunc('month', order_date) AS month
    FROM fact_sales
    WHERE customer_id <> 0
), activity AS (
    SELECT month, min(month) OVER (PARTITION BY customer_id) AS cohort
    FROM months
), counts AS (
    SELECT cohort,
           (date_part('year', month) - date_part('year', cohort)) * 12
             + date_part('month', month) - date_part('month', cohort) AS months_after,
           count(*) AS active_customers
    FROM activity
    GROUP BY 1, 2
), sized AS (
    SELECT cohort,
           first_value(active_customers) OVER (PARTITION BY cohort ORDER BY months_after) AS cohort_size,
           months_after,
           active_customers
    FROM counts
)
SELECT to_char(cohort, '%Y-%m') AS cohort,
       cohort_size,
       CAST(months_after AS INT) AS months_after,
       active_customers,
       round(100.0 * active_customers / cohort_size, 2) AS retention_pct
FROM sized
ORDER BY cohort, months_after
