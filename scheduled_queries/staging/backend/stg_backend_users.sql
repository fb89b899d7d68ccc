-- Current state of every backend user, from the Firestore export's change log (one row per write).
-- Firestore timestamps arrive as {"_seconds": ..., "_nanoseconds": ...} objects in the JSON.
WITH latest AS (
  SELECT
    document_id,
    operation,
    data,
    timestamp AS updated_at,
    MIN(timestamp) OVER (PARTITION BY document_id) AS first_write_at
  FROM firestore.users_raw_changelog
  -- event_id breaks ties between writes in the same microsecond (batched writes).
  QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY timestamp DESC, event_id DESC) = 1
)
SELECT
  document_id AS user_id,
  LOWER(TRIM(JSON_VALUE(data, '$.email'))) AS email,
  LOWER(REGEXP_EXTRACT(TRIM(JSON_VALUE(data, '$.email')), r'@([^@]+)$')) AS email_domain,
  JSON_VALUE(data, '$.display_name') AS display_name,
  -- Users imported before the export existed have no created_at: their first write is the best guess.
  COALESCE(
    TIMESTAMP_SECONDS(SAFE_CAST(JSON_VALUE(data, '$.created_at._seconds') AS INT64)),
    first_write_at
  ) AS signup_at,
  LOWER(JSON_VALUE(data, '$.signup.platform')) AS signup_platform,
  LOWER(JSON_VALUE(data, '$.signup.utm_source')) AS signup_source,
  LOWER(JSON_VALUE(data, '$.signup.utm_medium')) AS signup_medium,
  JSON_VALUE(data, '$.signup.utm_campaign') AS signup_campaign,
  JSON_VALUE(data, '$.signup.invited_by') AS invited_by_user_id,
  JSON_VALUE(data, '$.signup.device_id') AS signup_device_id,
  JSON_VALUE(data, '$.default_workspace_id') AS default_workspace_id,
  COALESCE(SAFE_CAST(JSON_VALUE(data, '$.email_verified') AS BOOL), FALSE) AS is_email_verified,
  COALESCE(SAFE_CAST(JSON_VALUE(data, '$.marketing_opt_in') AS BOOL), FALSE) AS marketing_opt_in,
  JSON_VALUE(data, '$.locale') AS locale,
  updated_at
FROM latest
-- Filtered after picking the latest write: a deleted user's earlier writes must not bring it back.
WHERE operation != 'DELETE'
