-- campaign_cube: every campaign contact (and control-group member) with its campaign, contact
-- day and customer joined, ready for slicing. Customer attributes are those valid on the
-- contact day (SCD2 version of customer_key).
SELECT m.campaign_code,
       m.campaign_name,
       m.channel_code AS campaign_channel_code,
       m.target_segment,
       r.contact_date,
       d.year,
       d.quarter,
       d.month,
       d.year_month,
       r.customer_id,
       c.customer_type,
       c.region AS customer_region,
       r.control_group,
       r.contacted,
       r.responded,
       r.converted,
       r.response_revenue
FROM fact_campaign_response r
JOIN dim_campaign m ON m.campaign_key = r.campaign_key
JOIN dim_date d ON d.date_key = r.date_key
JOIN dim_customer c ON c.customer_key = r.customer_key
