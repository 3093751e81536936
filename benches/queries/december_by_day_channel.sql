-- Date-range slice: lines and revenue per day and channel in December 2024.
SELECT order_date, channel_name, count(*) AS lines, sum(revenue) AS revenue
FROM sales_cube
WHERE order_date BETWEEN DATE '2024-12-01' AND DATE '2024-12-31'
GROUP BY 1, 2
ORDER BY 1, 2
