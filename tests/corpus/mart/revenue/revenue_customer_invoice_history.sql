-- Each Stripe customer's invoice history in one row: the latest invoice, when they last paid, the
-- statuses their invoices went through and what they paid in total.
SELECT
  customer_id,
  COUNT(*) AS invoices,
  ARRAY_AGG(invoice_id ORDER BY created_at DESC LIMIT 1)[OFFSET(0)] AS latest_invoice_id,
  ARRAY_AGG(IF(status = 'paid', created_at, NULL) IGNORE NULLS ORDER BY created_at DESC LIMIT 1)[SAFE_OFFSET(0)]
    AS last_paid_at,
  ARRAY_TO_STRING(ARRAY_AGG(DISTINCT status ORDER BY status), ',') AS statuses,
  SUM(amount_paid_cents) / 100 AS amount_paid
FROM stg_external.stg_stripe_invoices
GROUP BY customer_id
