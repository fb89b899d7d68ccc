-- Latest state of every Stripe subscription (Stitch appends a row per change).
SELECT
  id AS subscription_id,
  customer AS customer_id,
  status,
  plan_id,
  plan_amount AS plan_amount_cents,
  LOWER(plan_currency) AS currency,
  plan_interval,
  COALESCE(quantity, 1) AS quantity,
  created AS created_at,
  canceled_at
FROM stripe.subscriptions
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY _sdc_batched_at DESC) = 1
