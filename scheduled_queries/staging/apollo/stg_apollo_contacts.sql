-- Latest version of every Apollo contact (the sync appends a row per change). E-mails are
-- lower-cased because Hubspot and the backend match on them.
SELECT
  id AS contact_id,
  LOWER(TRIM(email)) AS email,
  LOWER(REGEXP_EXTRACT(TRIM(email), r'@([^@]+)$')) AS email_domain,
  first_name,
  last_name,
  title,
  account_id,
  updated_at
FROM apollo.contacts
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1
