-- The latest profile of each user, read from the Firestore change log's JSON: nested signup
-- attribution, the Firestore timestamp map and booleans stored as JSON.
SELECT
  document_id AS user_id,
  LOWER(JSON_VALUE(data, '$.email')) AS email,
  JSON_VALUE(data, '$.signup.platform') AS signup_platform,
  JSON_EXTRACT_SCALAR(data, '$.signup.utm_source') AS signup_source,
  TIMESTAMP_SECONDS(SAFE_CAST(JSON_VALUE(data, '$.created_at._seconds') AS INT64)) AS created_at,
  IFNULL(SAFE_CAST(JSON_VALUE(data, '$.email_verified') AS BOOL), FALSE) AS is_email_verified,
  JSON_QUERY(data, '$.signup') AS signup_json
FROM firestore.users_raw_changelog
WHERE operation != 'DELETE'
QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY timestamp DESC, event_id DESC) = 1
