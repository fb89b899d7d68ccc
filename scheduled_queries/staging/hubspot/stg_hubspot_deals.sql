-- Hubspot deals as the CRM shows them. The won/lost stage ids are the default sales
-- pipeline's (the only pipeline in use).
SELECT
  deal_id,
  property_dealname AS deal_name,
  property_dealstage AS deal_stage,
  property_amount AS amount_usd,
  property_closedate AS close_at,
  company_id,
  COALESCE(property_dealstage = 'closedwon', FALSE) AS is_won,
  COALESCE(property_dealstage IN ('closedwon', 'closedlost'), FALSE) AS is_closed,
  _fivetran_synced AS synced_at
FROM hubspot.deal
WHERE NOT COALESCE(_fivetran_deleted, FALSE)
