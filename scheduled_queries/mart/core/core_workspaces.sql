-- One row per workspace: plan, members, documents and the Stripe subscription that bills it.
WITH documents AS (
  SELECT
    workspace_id,
    COUNTIF(NOT is_trashed) AS documents,
    MAX(last_edited_at) AS last_edited_at
  FROM stg_external.stg_backend_documents
  WHERE workspace_id IS NOT NULL
  GROUP BY workspace_id
)

SELECT
  w.workspace_id,
  w.name,
  w.plan,
  w.owner_user_id,
  w.member_count,
  COALESCE(d.documents, 0) AS documents,
  d.last_edited_at,
  w.stripe_customer_id,
  w.stripe_subscription_id,
  s.status AS subscription_status,
  s.plan_interval AS billing_interval,
  s.quantity AS seats,
  -- revenue_mrr's rule, per workspace: only billing subscriptions count, yearly prices for a twelfth.
  -- A subscription without a plan amount (several prices on one subscription) counts 0, not NULL.
  IF(
    s.status IN ('active', 'past_due') AND s.currency = 'usd',
    COALESCE(s.quantity * s.plan_amount_cents, 0) / 100 / IF(s.plan_interval = 'year', 12, 1),
    0
  ) AS mrr_usd,
  s.created_at AS subscribed_at,
  s.canceled_at,
  w.created_at
FROM stg_external.stg_backend_workspaces AS w
LEFT JOIN documents AS d ON d.workspace_id = w.workspace_id
LEFT JOIN stg_external.stg_stripe_subscriptions AS s ON s.subscription_id = w.stripe_subscription_id
