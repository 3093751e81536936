-- A mart joined to the facts: each RFM segment's revenue by channel type.
SELECT r.rfm_segment, ch.channel_type, count(*) AS lines, sum(s.revenue) AS revenue
FROM fact_sales s
JOIN mart_rfm r ON r.customer_id = s.customer_id
JOIN dim_channel ch ON ch.channel_key = s.channel_key
GROUP BY 1, 2
ORDER BY 1, 2
