-- High-cardinality aggregation: orders by number of lines, with average value.
WITH o AS (
    SELECT source_system, order_id, count(*) AS lines, sum(revenue) AS value
    FROM fact_sales
    GROUP BY 1, 2
)
SELECT lines, count(*) AS orders, avg(value) AS avg_value
FROM o
GROUP BY lines
ORDER BY lines
