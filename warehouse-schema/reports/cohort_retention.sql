-- Monthly cohort retention: for each cohort (month of first purchase), the share of its customers buying again N months later.
-- Months are keyed by the order's date key less its day (yyyymm00): integer arithmetic on a
-- column the facts hold, not `date_trunc` of 25M order dates. Each customer's cohort comes
-- from a second, narrow aggregation joined on the customer, not from a
-- `min() OVER (PARTITION BY customer_id)`: DataFusion's window operator sorts its input by
-- the partition key (7.9M customer-months at a million customers) where a hash join needs
-- no order. Measured at a million customers (four interleaved rounds, medians): 3.09 s
-- with both, 2.82 with the date key, 2.55 with neither; DuckDB 2.01, 1.76, 1.85. dim_date
-- (every day of every year with sales) turns a month's key into its label and number on
-- the month's first day. The cohort size is its month-0 count (every customer buys in
-- their cohort month).
WITH months AS (
    SELECT DISTINCT customer_id, date_key - date_key % 100 AS month
    FROM fact_sales
    WHERE customer_id <> 0
), firsts AS (
    SELECT customer_id, min(date_key) - min(date_key) % 100 AS cohort
    FROM fact_sales
    WHERE customer_id <> 0
    GROUP BY customer_id
), pairs AS (
    SELECT f.cohort, m.month, count(*) AS active_customers
    FROM months m
    JOIN firsts f ON f.customer_id = m.customer_id
    GROUP BY 1, 2
), counts AS (
    SELECT c.year_month AS cohort,
           (m.year - c.year) * 12 + m.month - c.month AS months_after,
           p.active_customers
    FROM pairs p
    JOIN dim_date c ON c.date_key = p.cohort + 1
    JOIN dim_date m ON m.date_key = p.month + 1
), sized AS (
    SELECT cohort,
           first_value(active_customers) OVER (PARTITION BY cohort ORDER BY months_after) AS cohort_size,
           months_after,
           active_customers
    FROM counts
)
SELECT cohort,
       cohort_size,
       CAST(months_after AS INT) AS months_after,
       active_customers,
       round(100.0 * active_customers / cohort_size, 2) AS retention_pct
FROM sized
ORDER BY cohort, months_after
