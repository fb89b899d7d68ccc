-- Product usage per user, for Census to upsert into Hubspot contacts (matched on e-mail; Census
-- creates the contacts of new signups). Spam accounts stay out of the CRM.
WITH activity AS (
  SELECT
    user_id,
    COUNT(DISTINCT activity_date) AS active_days_28d,
    SUM(block_edits) AS block_edits_28d,
    MAX(activity_date) AS last_active_date,
    LOGICAL_OR(used_app) AS used_app_28d
  FROM mart.product_user_activity_daily
  WHERE activity_date BETWEEN DATE_SUB(@run_date, INTERVAL 28 DAY) AND DATE_SUB(@run_date, INTERVAL 1 DAY)
  GROUP BY user_id
)

SELECT
  u.email,
  u.hubspot_contact_id,
  u.user_id,
  u.signup_date,
  u.default_workspace_id AS workspace_id,
  w.plan AS workspace_plan,
  w.seats AS workspace_seats,
  w.member_count AS workspace_members,
  u.is_workspace_owner,
  u.is_paying_customer,
  COALESCE(a.active_days_28d, 0) AS active_days_28d,
  COALESCE(a.block_edits_28d, 0) AS block_edits_28d,
  a.last_active_date,
  COALESCE(a.used_app_28d, FALSE) AS used_app_28d
FROM mart.core_users AS u
LEFT JOIN mart.core_workspaces AS w ON w.workspace_id = u.default_workspace_id
LEFT JOIN activity AS a ON a.user_id = u.user_id
WHERE u.email IS NOT NULL
  AND u.user_id NOT IN (SELECT user_id FROM mart.spam_suspicious_signups)
