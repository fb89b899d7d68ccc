-- Monthly recurring revenue per customer on the day before the run, from Stripe subscriptions.
-- Yearly plans count for a twelfth; only subscriptions that bill (active, past_due) count.
-- USD only: other currencies need exchange rates the warehouse does not have yet.
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS as_of_date,
  customer_id,
  COUNT(*) AS subscriptions,
  -- A subscription with several prices has no single plan amount: it counts as 0 until
  -- subscription items are loaded, rather than making the customer's MRR unknown.
  COALESCE(SUM(
    quantity * plan_amount_cents / 100
    / IF(plan_interval = 'year', 12, 1)
  ), 0) AS mrr_usd
FROM stg_external.stg_stripe_subscriptions
WHERE status IN ('active', 'past_due')
  AND currency = 'usd'
  AND DATE(created_at) < @run_date
GROUP BY customer_id
