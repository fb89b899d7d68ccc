-- Churn-model features of every paying workspace as of the day before the run. One partition a
-- day, kept as computed that day: a training set joins each day's features to whether the
-- workspace canceled later, and features recomputed afterwards would leak what happened since.
WITH paying AS (
  SELECT *
  FROM mart.core_workspaces
  WHERE mrr_usd > 0
),

activity AS (
  SELECT
    workspace_id,
    COUNT(DISTINCT IF(block_edits > 0, user_id, NULL)) AS active_editors_28d,
    -- One row per user, workspace and day: each row with an edit is one editor-day.
    COUNTIF(block_edits > 0) AS active_editor_days_28d,
    SUM(block_edits) AS block_edits_28d,
    COUNT(DISTINCT IF(used_app, user_id, NULL)) AS app_users_28d
  FROM mart.product_user_activity_daily
  WHERE activity_date BETWEEN DATE_SUB(@run_date, INTERVAL 28 DAY) AND DATE_SUB(@run_date, INTERVAL 1 DAY)
    AND workspace_id IS NOT NULL
  GROUP BY workspace_id
),

nps AS (
  SELECT
    workspace_id,
    COUNT(*) AS nps_responses,
    ARRAY_AGG(score ORDER BY responded_at DESC LIMIT 1)[OFFSET(0)] AS latest_nps_score,
    AVG(score) AS avg_nps_score
  FROM mart.support_nps_responses
  WHERE workspace_id IS NOT NULL
    AND response_date < @run_date
  GROUP BY workspace_id
)

SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS as_of_date,
  p.workspace_id,
  p.stripe_customer_id,
  p.plan,
  p.billing_interval,
  p.subscription_status = 'past_due' AS is_past_due,
  p.seats,
  p.mrr_usd,
  p.member_count,
  DATE_DIFF(DATE_SUB(@run_date, INTERVAL 1 DAY), DATE(p.created_at), DAY) AS workspace_age_days,
  DATE_DIFF(DATE_SUB(@run_date, INTERVAL 1 DAY), DATE(p.subscribed_at), DAY) AS subscription_age_days,
  p.documents,
  COALESCE(a.active_editors_28d, 0) AS active_editors_28d,
  COALESCE(a.active_editor_days_28d, 0) AS active_editor_days_28d,
  COALESCE(a.block_edits_28d, 0) AS block_edits_28d,
  COALESCE(a.app_users_28d, 0) AS app_users_28d,
  -- Seats paid for but nobody edits with: the classic sign of a team about to downsize.
  SAFE_DIVIDE(COALESCE(a.active_editors_28d, 0), p.seats) AS seat_utilization_28d,
  -- From the backend's last edit, not Amplitude: it covers edits older than the 28-day window.
  -- An edit after midnight (before the run) counts as today, not as -1 day.
  GREATEST(DATE_DIFF(DATE_SUB(@run_date, INTERVAL 1 DAY), DATE(p.last_edited_at), DAY), 0)
    AS days_since_last_edit,
  COALESCE(n.nps_responses, 0) AS nps_responses,
  n.latest_nps_score,
  n.avg_nps_score
FROM paying AS p
LEFT JOIN activity AS a ON a.workspace_id = p.workspace_id
LEFT JOIN nps AS n ON n.workspace_id = p.workspace_id
