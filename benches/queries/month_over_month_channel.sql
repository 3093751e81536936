-- Month-over-month: each channel's monthly revenue against the month before (lag).
WITH m AS (
    SELECT channel_name, year_month, sum(revenue) AS revenue
    FROM sales_cube
    GROUP BY 1, 2
)
SELECT channel_name, year_month, revenue,
       lag(revenue) OVER (PARTITION BY channel_name ORDER BY year_month) AS previous_month,
       revenue - lag(revenue) OVER (PARTITION BY channel_name ORDER BY year_month) AS change
FROM m
ORDER BY channel_name, year_month
