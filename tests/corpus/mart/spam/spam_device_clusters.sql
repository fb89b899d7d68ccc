-- Devices that signed several accounts up: the accounts, their domains and how fast they came.
SELECT
  signup_device_id AS device_id,
  COUNT(*) AS signups,
  ARRAY_LENGTH(ARRAY_AGG(DISTINCT email_domain IGNORE NULLS)) AS distinct_domains,
  STRING_AGG(user_id, ',' ORDER BY signup_at) AS user_ids,
  TIMESTAMP_DIFF(MAX(signup_at), MIN(signup_at), MINUTE) AS span_minutes,
  SAFE_DIVIDE(COUNT(*), TIMESTAMP_DIFF(MAX(signup_at), MIN(signup_at), MINUTE) + 1) AS signups_per_minute
FROM stg_external.stg_backend_users
WHERE signup_device_id IS NOT NULL
GROUP BY signup_device_id
HAVING COUNT(DISTINCT user_id) > 1
