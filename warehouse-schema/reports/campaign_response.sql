-- Campaign response and conversion rates of the contacted group by campaign and by customer type, with their revenue (GROUPING SETS: per campaign, per campaign × customer type); `acrm campaign evaluate` compares them with the control group.
SELECT m.campaign_code,
       m.campaign_name,
       coalesce(c.customer_type, '(unknown)') AS customer_type,
       count(*) AS contacted,
       sum(CASE WHEN r.responded THEN 1 ELSE 0 END) AS responded,
       sum(CASE WHEN r.converted THEN 1 ELSE 0 END) AS converted,
       round(100.0 * sum(CASE WHEN r.responded THEN 1 ELSE 0 END) / count(*), 2) AS response_rate_pct,
       round(100.0 * sum(CASE WHEN r.converted THEN 1 ELSE 0 END) / count(*), 2) AS conversion_rate_pct,
       sum(r.response_revenue) AS revenue
FROM fact_campaign_response r
JOIN dim_campaign m ON m.campaign_key = r.campaign_key
JOIN dim_customer c ON c.customer_key = r.customer_key
WHERE NOT r.control_group
GROUP BY GROUPING SETS ((m.campaign_code, m.campaign_name), (m.campaign_code, m.campaign_name, coalesce(c.customer_type, '(unknown)')))
ORDER BY m.campaign_code, customer_type NULLS FIRST
