-- CUBE of sales channel × customer type: every subtotal, with the share of total revenue.
-- Lines are first summed per order (an order has one channel and one buyer), so the CUBE
-- counts orders instead of de-duplicating order ids per grouping set; the share divides by
-- the revenue of the whole grouping set, which is the grand total in each of them.
WITH orders AS (
    SELECT channel_name,
           coalesce(customer_type, '(unknown)') AS customer_type,
           customer_id,
           order_id,
           sum(revenue) AS revenue
    FROM sales_cube
    GROUP BY channel_name, coalesce(customer_type, '(unknown)'), customer_id, order_id
)
SELECT channel_name AS channel,
       customer_type,
       count(*) AS orders,
       count(DISTINCT customer_id) AS customers,
       sum(revenue) AS revenue,
       round(100.0 * CAST(sum(revenue) AS DOUBLE)
             / CAST(sum(sum(revenue)) OVER (PARTITION BY grouping(channel_name), grouping(customer_type)) AS DOUBLE), 2)
           AS revenue_share_pct
FROM orders
GROUP BY CUBE (channel_name, customer_type)
ORDER BY channel NULLS LAST, customer_type NULLS LAST
