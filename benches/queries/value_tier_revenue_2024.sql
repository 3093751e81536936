-- A mart joined to the facts: 2024 revenue, buyers and lines per value tier and category.
SELECT v.value_tier, p.category, count(DISTINCT s.customer_id) AS buyers, count(*) AS lines,
       sum(s.revenue) AS revenue
FROM fact_sales s
JOIN mart_value_tier v ON v.customer_id = s.customer_id
JOIN dim_product p ON p.product_key = s.product_key
WHERE s.order_date >= DATE '2024-01-01' AND s.order_date < DATE '2025-01-01'
GROUP BY 1, 2
ORDER BY 1, 2
