-- Product holding: per RFM segment (mart_rfm) and category, the share of the segment's customers who bought the category in each of the last four quarters up to the last sale, and its change in points on the quarter before.
WITH last AS (
    SELECT max(order_date) AS d FROM fact_sales
), quarters AS (
    SELECT DISTINCT CAST(date_trunc('quarter', s.order_date) AS DATE) AS quarter
    FROM fact_sales s, last
    WHERE s.order_date > CAST(date_trunc('quarter', last.d) AS DATE) - INTERVAL '12' MONTH
      AND s.order_date <= last.d
), segments AS (
    SELECT rfm_segment, count(*) AS customers FROM mart_rfm GROUP BY rfm_segment
), categories AS (
    SELECT DISTINCT category FROM dim_product WHERE category IS NOT NULL AND product_key <> 0
), holders AS (
    SELECT r.rfm_segment, p.category, CAST(date_trunc('quarter', s.order_date) AS DATE) AS quarter,
           count(DISTINCT s.customer_id) AS holders
    FROM fact_sales s
    JOIN mart_rfm r ON r.customer_id = s.customer_id
    JOIN dim_product p ON p.product_key = s.product_key
    -- Only the grid's quarters, each whole (from the first day of the earliest, which
    -- `quarters` leaves out but whose holding the next quarter's change needs): counting
    -- distinct holders over all history was most of the report's time.
    WHERE s.quantity > 0
      AND s.order_date >= (SELECT CAST(date_trunc('quarter', d) AS DATE) - INTERVAL '12' MONTH FROM last)
    GROUP BY 1, 2, 3
), grid AS (
    SELECT g.rfm_segment, c.category, q.quarter, g.customers, coalesce(h.holders, 0) AS holders
    FROM segments g CROSS JOIN categories c CROSS JOIN quarters q
    LEFT JOIN holders h
      ON h.rfm_segment = g.rfm_segment AND h.category = c.category AND h.quarter = q.quarter
), rates AS (
    SELECT rfm_segment,
           category,
           quarter,
           customers,
           holders,
           round(100.0 * holders / customers, 1) AS holding_pct,
           round(100.0 * holders / customers
                 - lag(100.0 * holders / customers) OVER (PARTITION BY rfm_segment, category ORDER BY quarter), 1)
             AS change_pts
    FROM grid
)
-- Five quarters are read so that the first of the four shown has its change too.
SELECT * FROM rates
WHERE quarter > (SELECT min(quarter) FROM quarters)
ORDER BY rfm_segment, category, quarter
