-- The iOS and Android apps' events of one day, with the properties the product marts filter and
-- group on as plain columns, so that app analyses neither parse JSON nor scan web traffic.
SELECT
  event_date,
  event_time,
  event_id,
  event_type,
  user_id,
  device_id,
  platform,
  country,
  -- The apps set their version as a user property at launch, not on each event.
  JSON_VALUE(user_properties, '$.app_version') AS app_version,
  JSON_VALUE(event_properties, '$.workspace_id') AS workspace_id,
  JSON_VALUE(event_properties, '$.document_id') AS document_id,
  LOWER(JSON_VALUE(event_properties, '$.block_type')) AS block_type,
  JSON_VALUE(event_properties, '$.action') AS block_action
FROM stg_external.amplitude_events
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND is_app
