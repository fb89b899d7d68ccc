-- Per-user flags for Airflow's daily product jobs: suspend likely spam, nudge new users who have
-- not written anything yet, and hand paying workspaces nobody edits any more to customer success.
WITH activity AS (
  SELECT
    user_id,
    SUM(block_edits) AS block_edits_7d
  FROM mart.product_user_activity_daily
  WHERE activity_date BETWEEN DATE_SUB(@run_date, INTERVAL 7 DAY) AND DATE_SUB(@run_date, INTERVAL 1 DAY)
  GROUP BY user_id
)

SELECT
  u.user_id,
  s.user_id IS NOT NULL AS is_suspected_spam,
  COALESCE(s.spam_score, 0) AS spam_score,
  s.reasons AS spam_reasons,
  -- Only the surest cases are suspended automatically; the others go to manual review.
  COALESCE(s.spam_score >= 2, FALSE) AS should_suspend,
  u.signup_date >= DATE_SUB(@run_date, INTERVAL 7 DAY) AS is_new_user,
  u.signup_date >= DATE_SUB(@run_date, INTERVAL 7 DAY)
    AND COALESCE(a.block_edits_7d, 0) = 0
    AND s.user_id IS NULL AS needs_onboarding_nudge,
  -- The workspace's last edit comes from the backend: it also sees edits Amplitude missed (ad blockers).
  u.is_paying_customer
    AND COALESCE(w.last_edited_at < TIMESTAMP(DATE_SUB(@run_date, INTERVAL 28 DAY)), TRUE)
    AS is_dormant_paying_customer
FROM mart.core_users AS u
LEFT JOIN mart.core_workspaces AS w ON w.workspace_id = u.default_workspace_id
LEFT JOIN mart.spam_suspicious_signups AS s ON s.user_id = u.user_id
LEFT JOIN activity AS a ON a.user_id = u.user_id
