-- Which e-mail addresses are both product users and CRM contacts, and which are only in the CRM
-- (leads to invite): set operations on the lower-cased addresses.
SELECT email, 'both' AS presence
FROM (
  SELECT LOWER(email) AS email FROM stg_external.stg_backend_users WHERE email IS NOT NULL
  INTERSECT DISTINCT
  SELECT LOWER(email) FROM stg_external.stg_hubspot_contacts WHERE email IS NOT NULL
)
UNION ALL
SELECT email, 'crm_only'
FROM (
  SELECT LOWER(email) AS email FROM stg_external.stg_hubspot_contacts WHERE email IS NOT NULL
  EXCEPT DISTINCT
  SELECT LOWER(email) FROM stg_external.stg_backend_users WHERE email IS NOT NULL
)
