-- Sales by region × month × category with ROLLUP subtotals and the grand total.
-- Lines without a branch (web and app orders) count under '(no branch)', so a NULL region is
-- always a subtotal row.
SELECT coalesce(branch_region, '(no branch)') AS region,
       year_month,
       coalesce(category, '(unknown)') AS category,
       count(DISTINCT order_id) AS orders,
       sum(quantity) AS units,
       sum(revenue) AS revenue,
       sum(margin) AS margin
FROM sales_cube
GROUP BY ROLLUP (coalesce(branch_region, '(no branch)'), year_month, coalesce(category, '(unknown)'))
ORDER BY region NULLS LAST, year_month NULLS LAST, category NULLS LAST
