-- Sales by region × month × category with ROLLUP subtotals and the grand total.
SELECT branch_region AS region,
       year_month,
       category,
       count(DISTINCT order_id) AS orders,
       sum(quantity) AS units,
       sum(revenue) AS revenue,
       sum(margin) AS margin
FROM sales_cube
GROUP BY ROLLUP (branch_region, year_month, category)
ORDER BY region NULLS LAST, year_month NULLS LAST, category NULLS LAST
