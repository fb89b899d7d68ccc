-- Each user with their default workspace's billing, or explicit nulls when they have none: the
-- struct's fields become the columns (IF(...).*).
SELECT
  u.user_id,
  IF(w.workspace_id IS NOT NULL,
     STRUCT(w.plan AS workspace_plan, w.seats AS workspace_seats, w.mrr_usd AS workspace_mrr_usd),
     STRUCT(CAST(NULL AS STRING) AS workspace_plan, CAST(NULL AS INT64) AS workspace_seats,
            CAST(NULL AS FLOAT64) AS workspace_mrr_usd)).*
FROM mart.core_users AS u
LEFT JOIN mart.core_workspaces AS w ON w.workspace_id = u.default_workspace_id
