-- Campaign response and conversion rates of the contacted group by campaign and by customer type, with their revenue (GROUPING SETS: per campaign, per campaign × customer type); `acrm campaign evaluate` compares them with the control group.
SELECT campaign_code,
       campaign_name,
       coalesce(customer_type, '(unknown)') AS customer_type,
       count(*) AS contacted,
       sum(CASE WHEN responded THEN 1 ELSE 0 END) AS responded,
       sum(CASE WHEN converted THEN 1 ELSE 0 END) AS converted,
       round(100.0 * sum(CASE WHEN responded THEN 1 ELSE 0 END) / count(*), 2) AS response_rate_pct,
       round(100.0 * sum(CASE WHEN converted THEN 1 ELSE 0 END) / count(*), 2) AS conversion_rate_pct,
       sum(response_revenue) AS revenue
FROM campaign_cube
WHERE NOT control_group
GROUP BY GROUPING SETS ((campaign_code, campaign_name), (campaign_code, campaign_name, coalesce(customer_type, '(unknown)')))
ORDER BY campaign_code, customer_type NULLS FIRST
