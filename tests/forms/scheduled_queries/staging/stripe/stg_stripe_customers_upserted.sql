-- Upserts the Stripe customers Stitch loaded since the last run into their current state: only
-- the changed customers are read, and a customer deleted in Stripe keeps its last row.
DECLARE watermark TIMESTAMP DEFAULT (
  SELECT IFNULL(MAX(loaded_at), TIMESTAMP '1970-01-01 00:00:00+00')
  FROM stg_external.stg_stripe_customers_upserted
);

CREATE TEMP TABLE changed AS
SELECT
  id AS customer_id,
  LOWER(TRIM(email)) AS email,
  NULLIF(TRIM(metadata_user_id), '') AS user_id,
  created AS created_at,
  _sdc_batched_at AS loaded_at
FROM stripe.customers
WHERE _sdc_batched_at > watermark
  AND _sdc_batched_at < TIMESTAMP(@run_date)
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY _sdc_batched_at DESC) = 1;

BEGIN TRANSACTION;

MERGE stg_external.stg_stripe_customers_upserted AS t
USING changed AS c
ON t.customer_id = c.customer_id
WHEN MATCHED AND c.loaded_at > t.loaded_at THEN
  UPDATE SET email = c.email, user_id = c.user_id, loaded_at = c.loaded_at
WHEN NOT MATCHED THEN
  INSERT (customer_id, email, user_id, created_at, loaded_at)
  VALUES (c.customer_id, c.email, c.user_id, c.created_at, c.loaded_at);

COMMIT TRANSACTION;
