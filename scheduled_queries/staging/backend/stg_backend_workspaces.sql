-- Current state of every workspace, from the Firestore export's change log.
WITH latest AS (
  SELECT
    document_id,
    operation,
    data,
    timestamp AS updated_at,
    MIN(timestamp) OVER (PARTITION BY document_id) AS first_write_at
  FROM firestore.workspaces_raw_changelog
  QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY timestamp DESC, event_id DESC) = 1
)
SELECT
  document_id AS workspace_id,
  JSON_VALUE(data, '$.name') AS name,
  JSON_VALUE(data, '$.owner_id') AS owner_user_id,
  COALESCE(JSON_VALUE(data, '$.plan'), 'free') AS plan,
  COALESCE(ARRAY_LENGTH(JSON_QUERY_ARRAY(data, '$.member_ids')), 0) AS member_count,
  JSON_VALUE(data, '$.billing.stripe_customer_id') AS stripe_customer_id,
  JSON_VALUE(data, '$.billing.stripe_subscription_id') AS stripe_subscription_id,
  COALESCE(
    TIMESTAMP_SECONDS(SAFE_CAST(JSON_VALUE(data, '$.created_at._seconds') AS INT64)),
    first_write_at
  ) AS created_at,
  updated_at
FROM latest
WHERE operation != 'DELETE'
