-- Hubspot contacts as the CRM shows them: Fivetran keeps deleted contacts with a flag.
SELECT
  id AS contact_id,
  LOWER(TRIM(property_email)) AS email,
  LOWER(REGEXP_EXTRACT(TRIM(property_email), r'@([^@]+)$')) AS email_domain,
  property_firstname AS first_name,
  property_lastname AS last_name,
  property_lifecyclestage AS lifecycle_stage,
  property_associatedcompanyid AS company_id,
  property_createdate AS created_at,
  _fivetran_synced AS synced_at
FROM hubspot.contact
WHERE NOT COALESCE(_fivetran_deleted, FALSE)
