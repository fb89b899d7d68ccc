-- Hubspot companies as the CRM shows them, domains reduced to the bare host for matching.
SELECT
  id AS company_id,
  property_name AS name,
  REGEXP_EXTRACT(LOWER(TRIM(property_domain)), r'^(?:https?://)?(?:www\.)?([^/:]+)') AS domain,
  property_industry AS industry,
  _fivetran_synced AS synced_at
FROM hubspot.company
WHERE NOT COALESCE(_fivetran_deleted, FALSE)
