-- Receivables ageing per customer (current, 1-30, 31-60, 61-90, 90+ days past due, as of the latest invoice date) against the credit limit; customers with an open balance, largest first.
WITH as_of AS (
    SELECT max(invoice_date) AS day FROM fact_receivable
), open_items AS (
    SELECT r.customer_id,
           r.amount - coalesce(r.paid_amount, 0) AS open_amount,
           date_part('day', CAST(a.day AS TIMESTAMP) - CAST(r.due_date AS TIMESTAMP)) AS days_past_due
    FROM fact_receivable r CROSS JOIN as_of a
    WHERE r.amount - coalesce(r.paid_amount, 0) > 0
)
SELECT o.customer_id,
       c.name,
       c.credit_limit,
       sum(o.open_amount) AS balance,
       sum(CASE WHEN o.days_past_due <= 0 THEN o.open_amount ELSE 0 END) AS current_due,
       sum(CASE WHEN o.days_past_due BETWEEN 1 AND 30 THEN o.open_amount ELSE 0 END) AS days_1_30,
       sum(CASE WHEN o.days_past_due BETWEEN 31 AND 60 THEN o.open_amount ELSE 0 END) AS days_31_60,
       sum(CASE WHEN o.days_past_due BETWEEN 61 AND 90 THEN o.open_amount ELSE 0 END) AS days_61_90,
       sum(CASE WHEN o.days_past_due > 90 THEN o.open_amount ELSE 0 END) AS days_over_90,
       sum(o.open_amount) > coalesce(c.credit_limit, 0) AS over_credit_limit
FROM open_items o
JOIN dim_customer c ON c.customer_id = o.customer_id AND c.is_current
GROUP BY o.customer_id, c.name, c.credit_limit
ORDER BY balance DESC, o.customer_id
