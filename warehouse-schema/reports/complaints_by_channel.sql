-- Service contacts by channel: complaint rate, mean satisfaction and mean resolution time.
SELECT ch.channel_name AS channel,
       count(*) AS contacts,
       sum(CASE WHEN s.contact_type = 'complaint' THEN 1 ELSE 0 END) AS complaints,
       round(100.0 * sum(CASE WHEN s.contact_type = 'complaint' THEN 1 ELSE 0 END) / count(*), 2) AS complaint_rate_pct,
       round(avg(s.satisfaction), 3) AS avg_satisfaction,
       round(avg(s.resolution_hours), 2) AS avg_resolution_hours,
       sum(CASE WHEN s.status = 'open' THEN 1 ELSE 0 END) AS still_open
FROM fact_service s
JOIN dim_channel ch ON ch.channel_key = s.channel_key
GROUP BY ch.channel_name
ORDER BY contacts DESC, channel
