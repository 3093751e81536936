-- Slice and dice: revenue and margin by quarter and category for one region in 2024.
SELECT quarter, category, sum(revenue) AS revenue, sum(margin) AS margin
FROM sales_cube
WHERE year = 2024 AND customer_region = '华东'
GROUP BY 1, 2
ORDER BY 1, 2
