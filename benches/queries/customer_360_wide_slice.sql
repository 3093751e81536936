-- Wide customer_360 slice: every column of one region's enterprise customers, first 1,000 by id.
SELECT *
FROM customer_360
WHERE region = '华南' AND customer_type = 'enterprise'
ORDER BY customer_id
LIMIT 1000
