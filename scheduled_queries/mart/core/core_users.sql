-- One row per backend user, with the Stripe customer and the Hubspot contact that are theirs.
WITH stripe_customer AS (
  -- Abandoned checkouts leave a user with several Stripe customers: the newest is the live one.
  SELECT user_id, customer_id
  FROM stg_external.stg_stripe_customers
  WHERE user_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY created_at DESC) = 1
),

billing AS (
  -- Paying means a subscription that bills today, as in revenue_mrr (a trial does not).
  SELECT
    customer_id,
    LOGICAL_OR(status IN ('active', 'past_due')) AS is_paying,
    LOGICAL_OR(status = 'trialing') AS is_trialing
  FROM stg_external.stg_stripe_subscriptions
  GROUP BY customer_id
),

hubspot_contact AS (
  -- Hubspot lets two contacts share an e-mail after an import: the oldest holds the history.
  SELECT email, contact_id, lifecycle_stage
  FROM stg_external.stg_hubspot_contacts
  WHERE email IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY email ORDER BY created_at, contact_id) = 1
)

SELECT
  u.user_id,
  u.email,
  u.email_domain,
  u.display_name,
  u.signup_at,
  DATE(u.signup_at) AS signup_date,
  u.signup_platform,
  u.signup_source,
  u.signup_medium,
  u.signup_campaign,
  u.invited_by_user_id,
  u.signup_device_id,
  u.default_workspace_id,
  w.plan AS default_workspace_plan,
  COALESCE(w.owner_user_id = u.user_id, FALSE) AS is_workspace_owner,
  u.is_email_verified,
  u.marketing_opt_in,
  u.locale,
  c.customer_id AS stripe_customer_id,
  COALESCE(b.is_paying, FALSE) AS is_paying_customer,
  COALESCE(b.is_trialing, FALSE) AS is_trialing,
  h.contact_id AS hubspot_contact_id,
  h.lifecycle_stage AS hubspot_lifecycle_stage,
  u.updated_at
FROM stg_external.stg_backend_users AS u
LEFT JOIN stg_external.stg_backend_workspaces AS w ON w.workspace_id = u.default_workspace_id
LEFT JOIN stripe_customer AS c ON c.user_id = u.user_id
LEFT JOIN billing AS b ON b.customer_id = c.customer_id
LEFT JOIN hubspot_contact AS h ON h.email = u.email
