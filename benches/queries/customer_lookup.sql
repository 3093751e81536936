-- Point lookup by customer: one customer's 360 row (every purchase, service, campaign and
-- receivable measure), as a service desk screen asks for it.
SELECT customer_id, name, city, customer_type, credit_limit, first_purchase, last_purchase,
       orders, revenue, margin, service_contacts, complaints, campaign_responses,
       receivable_balance, over_credit_limit
FROM customer_360
WHERE customer_id = 424242
