-- Point lookup by order: the lines of one till receipt (its id names no date, so only a
-- bloom filter or a full scan finds it).
SELECT source_system, order_id, line_number, order_date, customer_id, product_key, quantity,
       revenue
FROM fact_sales
WHERE order_id = 'RS022107451704'
ORDER BY line_number
