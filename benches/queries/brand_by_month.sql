-- Selective predicate on a dimension: one brand's monthly units and revenue (the filter is on
-- dim_product; the fact is joined through product_key).
SELECT d.year_month, sum(s.quantity) AS units, sum(s.revenue) AS revenue
FROM fact_sales s
JOIN dim_product p ON p.product_key = s.product_key
JOIN dim_date d ON d.date_key = s.date_key
WHERE p.brand = '农夫山泉'
GROUP BY 1
ORDER BY 1
