-- MRR movements per customer between the two days before the run: new, expansion, contraction,
-- churned or unchanged, from the daily MRR snapshot.
WITH today AS (
  SELECT customer_id, mrr_usd
  FROM mart.revenue_mrr
  WHERE as_of_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
),
yesterday AS (
  SELECT customer_id, mrr_usd
  FROM mart.revenue_mrr
  WHERE as_of_date = DATE_SUB(@run_date, INTERVAL 2 DAY)
)
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS as_of_date,
  COALESCE(t.customer_id, y.customer_id) AS customer_id,
  IFNULL(y.mrr_usd, 0) AS previous_mrr_usd,
  IFNULL(t.mrr_usd, 0) AS mrr_usd,
  CASE
    WHEN y.customer_id IS NULL THEN 'new'
    WHEN t.customer_id IS NULL THEN 'churned'
    WHEN t.mrr_usd > y.mrr_usd THEN 'expansion'
    WHEN t.mrr_usd < y.mrr_usd THEN 'contraction'
    ELSE 'unchanged'
  END AS movement
FROM today AS t
FULL OUTER JOIN yesterday AS y ON t.customer_id = y.customer_id
