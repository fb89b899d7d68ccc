-- Latest state of every Stripe customer (Stitch appends a row per change).
SELECT
  id AS customer_id,
  LOWER(TRIM(email)) AS email,
  -- Set by the backend at checkout; customers created by hand in the dashboard have none.
  NULLIF(TRIM(metadata_user_id), '') AS user_id,
  created AS created_at
FROM stripe.customers
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY _sdc_batched_at DESC) = 1
