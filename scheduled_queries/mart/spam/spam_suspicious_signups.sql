-- Accounts that look like spam signups, one row each with why. Spammers create accounts in
-- bursts from one device, with throwaway mailboxes, to publish link-farm documents: their
-- display names often carry the link already.
WITH users AS (
  SELECT
    user_id,
    email,
    email_domain,
    display_name,
    signup_at,
    signup_device_id,
    IF(
      signup_device_id IS NULL,
      1,
      COUNT(*) OVER (PARTITION BY signup_device_id, DATE(signup_at))
    ) AS signups_from_device,
    COALESCE(email_domain IN (
      'mailinator.com', 'guerrillamail.com', 'guerrillamail.info', 'sharklasers.com', 'yopmail.com',
      '10minutemail.com', 'temp-mail.org', 'trashmail.com', 'getnada.com', 'dispostable.com',
      'maildrop.cc', 'throwawaymail.com'
    ), FALSE) AS is_disposable_domain,
    COALESCE(REGEXP_CONTAINS(LOWER(display_name), r'https?://|www\.|\.(com|net|ru|xyz|example)\b'), FALSE)
      AS has_link_in_name
  FROM stg_external.stg_backend_users
),

flagged AS (
  SELECT
    *,
    -- Three accounts from one device on one day: more than a family sharing a tablet does.
    signups_from_device >= 3 AS is_device_burst
  FROM users
)

SELECT
  user_id,
  email,
  email_domain,
  display_name,
  signup_at,
  signup_device_id,
  signups_from_device,
  is_disposable_domain,
  is_device_burst,
  has_link_in_name,
  CAST(is_disposable_domain AS INT64) + CAST(is_device_burst AS INT64) + CAST(has_link_in_name AS INT64)
    AS spam_score,
  ARRAY_TO_STRING([
    IF(is_disposable_domain, 'disposable_domain', NULL),
    IF(is_device_burst, 'device_burst', NULL),
    IF(has_link_in_name, 'link_in_name', NULL)
  ], ',') AS reasons
FROM flagged
WHERE is_disposable_domain OR is_device_burst OR has_link_in_name
