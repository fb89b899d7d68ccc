-- Hubspot contacts per e-mail domain, webmail told apart, with how many look like role
-- addresses (info@, sales@...): the domains sales should look at first.
SELECT
  email_domain,
  REGEXP_CONTAINS(email_domain, r'^(gmail|googlemail|yahoo|hotmail|outlook|icloud)\.') AS is_webmail,
  COUNT(*) AS contacts,
  COUNTIF(REGEXP_CONTAINS(email, r'^(info|sales|contact|hello|admin)@')) AS role_addresses,
  REGEXP_EXTRACT(MIN(email_domain), r'\.([a-z]{2,})$') AS top_level_domain,
  STRING_AGG(DISTINCT lifecycle_stage, ', ' ORDER BY lifecycle_stage) AS lifecycle_stages
FROM stg_external.stg_hubspot_contacts
WHERE email_domain IS NOT NULL
GROUP BY email_domain
HAVING COUNT(*) >= 1
