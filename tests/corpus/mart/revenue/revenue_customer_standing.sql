-- Stripe customers with a live subscription, with their paid invoices and latest subscription,
-- through correlated subqueries (the shape finance's ad-hoc queries take).
SELECT
  c.customer_id,
  c.email,
  (SELECT COUNT(*)
   FROM stg_external.stg_stripe_invoices AS i
   WHERE i.customer_id = c.customer_id AND i.status = 'paid') AS paid_invoices,
  (SELECT MAX(s.created_at)
   FROM stg_external.stg_stripe_subscriptions AS s
   WHERE s.customer_id = c.customer_id) AS last_subscribed_at
FROM stg_external.stg_stripe_customers AS c
WHERE EXISTS (
  SELECT 1
  FROM stg_external.stg_stripe_subscriptions AS s
  WHERE s.customer_id = c.customer_id AND s.status IN ('active', 'past_due', 'trialing')
)
