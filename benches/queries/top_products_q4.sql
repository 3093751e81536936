-- Top-N: the 20 products with the highest margin in Q4 2024.
SELECT sku, product_name, sum(margin) AS margin
FROM sales_cube
WHERE year = 2024 AND quarter = 4
GROUP BY 1, 2
ORDER BY margin DESC, sku
LIMIT 20
