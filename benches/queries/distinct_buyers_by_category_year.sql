-- Distinct counts: buying customers and orders per category and year.
SELECT year, category, count(DISTINCT customer_id) AS buyers, count(DISTINCT order_id) AS orders
FROM sales_cube
WHERE quantity > 0
GROUP BY 1, 2
ORDER BY 1, 2
