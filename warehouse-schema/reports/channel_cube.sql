-- CUBE of sales channel × customer type: every subtotal, with the share of total revenue.
SELECT channel_name AS channel,
       coalesce(customer_type, '(unknown)') AS customer_type,
       count(DISTINCT order_id) AS orders,
       count(DISTINCT customer_id) AS customers,
       sum(revenue) AS revenue,
       round(100.0 * CAST(sum(revenue) AS DOUBLE)
             / CAST((SELECT sum(revenue) FROM sales_cube) AS DOUBLE), 2) AS revenue_share_pct
FROM sales_cube
GROUP BY CUBE (channel_name, coalesce(customer_type, '(unknown)'))
ORDER BY channel NULLS LAST, customer_type NULLS LAST
