-- Top-N per group (window function): the three best-selling products of each category in 2024.
WITH ranked AS (
    SELECT category, sku, product_name, sum(revenue) AS revenue,
           row_number() OVER (PARTITION BY category ORDER BY sum(revenue) DESC, sku) AS rank
    FROM sales_cube
    WHERE year = 2024
    GROUP BY 1, 2, 3
)
SELECT category, rank, sku, product_name, revenue
FROM ranked
WHERE rank <= 3
ORDER BY category, rank
