-- Workspaces ranked by MRR within their plan, with their decile across all paying workspaces.
SELECT
  workspace_id,
  plan,
  mrr_usd,
  RANK() OVER (PARTITION BY plan ORDER BY mrr_usd DESC) AS plan_rank,
  DENSE_RANK() OVER (ORDER BY mrr_usd DESC) AS mrr_dense_rank,
  NTILE(10) OVER (ORDER BY mrr_usd) AS mrr_decile,
  ROUND(PERCENT_RANK() OVER (ORDER BY mrr_usd), 4) AS mrr_percent_rank,
  SUM(mrr_usd) OVER (PARTITION BY plan) AS plan_mrr_usd
FROM mart.core_workspaces
WHERE mrr_usd > 0
