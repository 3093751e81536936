-- CUBE of sales channel × customer type: every subtotal, with the share of total revenue.
-- An order has one channel and one buyer, so its distinct order ids count the orders of
-- each cell; the grouping is over the view itself, so the cube aggregate
-- agg_sales_month_channel answers it (distinct orders and customers as bitmap unions). The
-- share divides by the revenue of the whole grouping set, which is the grand total in each.
SELECT channel_name AS channel,
       coalesce(customer_type, '(unknown)') AS customer_type,
       count(DISTINCT order_id) AS orders,
       count(DISTINCT customer_id) AS customers,
       sum(revenue) AS revenue,
       round(100.0 * CAST(sum(revenue) AS DOUBLE)
             / CAST(sum(sum(revenue)) OVER (PARTITION BY grouping(channel_name),
                                                         grouping(coalesce(customer_type, '(unknown)'))) AS DOUBLE), 2)
           AS revenue_share_pct
FROM sales_cube
GROUP BY CUBE (channel_name, coalesce(customer_type, '(unknown)'))
ORDER BY channel NULLS LAST, customer_type NULLS LAST
