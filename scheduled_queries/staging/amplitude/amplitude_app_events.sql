-- The product's events of one day: the subset of amplitude_events performed in the app
-- (event_site = app: the web app and the mobile apps), as the company's analyses read them. The
-- event's and its space's properties are JSON text (JSON_EXTRACT_SCALAR(event_properties,
-- '$.blockType'), JSON_EXTRACT_SCALAR(space_properties, '$.spaceVisibility')), and the
-- properties analyses filter and group on most are extracted as columns.
SELECT
  event_date,
  event_time,
  event_id,
  event_type AS event_name,
  user_id,
  device_id,
  platform,
  country,
  IF(event_properties IS NULL, NULL, TO_JSON_STRING(event_properties)) AS event_properties,
  IF(JSON_QUERY(group_properties, '$.space') IS NULL, NULL, TO_JSON_STRING(JSON_QUERY(group_properties, '$.space')))
    AS space_properties,
  JSON_VALUE(event_properties, '$.workspaceId') AS workspace_id,
  JSON_VALUE(event_properties, '$.spaceId') AS space_id,
  JSON_VALUE(event_properties, '$.pageId') AS page_id,
  LOWER(JSON_VALUE(event_properties, '$.blockType')) AS block_type,
  -- The mobile apps set their version as a user property at launch, not on each event.
  JSON_VALUE(user_properties, '$.app_version') AS app_version
FROM stg_external.amplitude_events
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND event_site = 'app'
