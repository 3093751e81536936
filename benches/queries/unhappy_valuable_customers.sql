-- customer_360 filter + top-N: the highest-revenue customers with two or more complaints.
SELECT customer_id, revenue, complaints, avg_satisfaction
FROM customer_360
WHERE complaints >= 2
ORDER BY revenue DESC, customer_id
LIMIT 50
