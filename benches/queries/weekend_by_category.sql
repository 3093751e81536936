-- Calendar slice: units and average line value by weekend/weekday and category.
SELECT is_weekend, category, sum(quantity) AS units, avg(revenue) AS avg_line
FROM sales_cube
GROUP BY 1, 2
ORDER BY 1, 2
