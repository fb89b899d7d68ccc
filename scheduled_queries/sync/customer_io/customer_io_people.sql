-- People attributes for Customer.io, one row per user it may message. Timestamps are Unix
-- seconds, the only date format Customer.io segments on. Spam accounts are left out so that
-- they never receive (and bounce) e-mails.
WITH activity AS (
  SELECT
    user_id,
    SUM(block_edits) AS block_edits_28d,
    MAX(last_event_at) AS last_active_at
  FROM mart.product_user_activity_daily
  WHERE activity_date BETWEEN DATE_SUB(@run_date, INTERVAL 28 DAY) AND DATE_SUB(@run_date, INTERVAL 1 DAY)
  GROUP BY user_id
)

SELECT
  u.user_id AS id,
  u.email,
  u.display_name AS name,
  UNIX_SECONDS(u.signup_at) AS created_at,
  u.signup_platform,
  u.locale,
  u.default_workspace_id AS workspace_id,
  COALESCE(w.plan, 'free') AS plan,
  u.is_workspace_owner,
  u.is_paying_customer,
  u.is_trialing,
  u.is_email_verified,
  -- Customer.io's reserved attribute: true stops every marketing message.
  NOT u.marketing_opt_in AS unsubscribed,
  COALESCE(a.block_edits_28d, 0) AS block_edits_28d,
  UNIX_SECONDS(a.last_active_at) AS last_active_at
FROM mart.core_users AS u
LEFT JOIN mart.core_workspaces AS w ON w.workspace_id = u.default_workspace_id
LEFT JOIN activity AS a ON a.user_id = u.user_id
WHERE u.email IS NOT NULL
  AND u.user_id NOT IN (SELECT user_id FROM mart.spam_suspicious_signups)
