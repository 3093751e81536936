-- Expenses against budget by month and expense type, with the share of the budget spent (ROLLUP: month × type, month, all). Spending on an unbudgeted line counts against a budget of 0.
WITH spent AS (
    SELECT CAST(date_trunc('month', expense_date) AS DATE) AS month, expense_type, sum(amount) AS spent
    FROM fact_expense
    GROUP BY 1, 2
), budget AS (
    SELECT budget_month AS month, expense_type, sum(budgeted_amount) AS budget
    FROM fact_expense_budget
    GROUP BY 1, 2
), lines AS (
    SELECT coalesce(b.month, s.month) AS month,
           coalesce(b.expense_type, s.expense_type) AS expense_type,
           coalesce(b.budget, 0) AS budget,
           coalesce(s.spent, 0) AS spent
    FROM budget b
    FULL JOIN spent s ON s.month = b.month AND s.expense_type = b.expense_type
)
SELECT month,
       expense_type,
       sum(budget) AS budget,
       sum(spent) AS spent,
       round(100.0 * CAST(sum(spent) AS DOUBLE) / nullif(CAST(sum(budget) AS DOUBLE), 0), 1) AS spent_pct
FROM lines
GROUP BY ROLLUP (month, expense_type)
ORDER BY month NULLS LAST, expense_type NULLS FIRST
