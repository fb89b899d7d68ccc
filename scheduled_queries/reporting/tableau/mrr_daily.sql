-- Total MRR per day, for the revenue dashboard.
SELECT
  as_of_date,
  COUNT(DISTINCT customer_id) AS paying_customers,
  SUM(mrr_usd) AS mrr_usd
FROM mart.revenue_mrr
GROUP BY as_of_date
