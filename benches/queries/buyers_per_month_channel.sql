-- Distinct count: buying customers per month and channel.
SELECT year_month, channel_name, count(DISTINCT customer_id) AS buyers
FROM sales_cube
GROUP BY 1, 2
ORDER BY 1, 2
