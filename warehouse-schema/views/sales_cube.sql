-- sales_cube: every order line with every dimension joined, ready for slicing. Customer
-- attributes are those valid on the day of the sale (SCD2 version of customer_key).
SELECT s.order_id,
       s.line_number,
       s.order_date,
       d.year,
       d.quarter,
       d.month,
       d.year_month,
       d.day_of_week,
       d.day_name,
       d.is_weekend,
       s.customer_id,
       c.gender,
       c.customer_type,
       c.city AS customer_city,
       c.province AS customer_province,
       c.region AS customer_region,
       p.sku,
       p.product_name,
       p.category,
       p.subcategory,
       p.brand,
       ch.channel_code,
       ch.channel_name,
       ch.channel_type,
       b.branch_code,
       b.branch_name,
       b.city AS branch_city,
       b.province AS branch_province,
       b.region AS branch_region,
       s.quantity,
       s.unit_price,
       s.discount,
       s.revenue,
       s.cost,
       s.revenue - s.cost AS margin  -- Revenue less cost of the line; null when the cost is unknown.
FROM fact_sales s
JOIN dim_date d ON d.date_key = s.date_key
JOIN dim_customer c ON c.customer_key = s.customer_key
JOIN dim_product p ON p.product_key = s.product_key
JOIN dim_channel ch ON ch.channel_key = s.channel_key
JOIN dim_branch b ON b.branch_key = s.branch_key
