-- The latest day's MRR per customer for Tableau, rounded to cents, without the subscription count.
WITH latest AS (
  SELECT *
  FROM mart.revenue_mrr
  WHERE as_of_date = (SELECT MAX(as_of_date) FROM mart.revenue_mrr)
)
SELECT * EXCEPT (subscriptions) REPLACE (ROUND(mrr_usd, 2) AS mrr_usd)
FROM latest
