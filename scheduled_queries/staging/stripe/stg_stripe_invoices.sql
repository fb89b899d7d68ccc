-- Latest state of every Stripe invoice (Stitch appends a row as it goes draft, open, paid...).
SELECT
  id AS invoice_id,
  customer AS customer_id,
  subscription AS subscription_id,
  status,
  COALESCE(amount_paid, 0) AS amount_paid_cents,
  LOWER(currency) AS currency,
  created AS created_at
FROM stripe.invoices
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY _sdc_batched_at DESC) = 1
