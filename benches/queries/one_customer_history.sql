-- Drill-down: one customer's order lines with product, in date order.
SELECT order_date, order_id, line_number, sku, quantity, revenue
FROM sales_cube
WHERE customer_id = 1000
ORDER BY order_date, order_id, line_number
