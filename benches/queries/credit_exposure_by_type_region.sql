-- customer_360 slice: customers over their credit limit by type and region.
SELECT customer_type,
       region,
       count(*) AS customers,
       sum(CASE WHEN over_credit_limit THEN 1 ELSE 0 END) AS over_limit,
       avg(receivable_balance) AS avg_balance
FROM customer_360
GROUP BY 1, 2
ORDER BY 1, 2
