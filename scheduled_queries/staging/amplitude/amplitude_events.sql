-- One UTC day of the Amplitude export (the day before the run), typed once so that nothing
-- downstream scans the massive raw table or re-parses its JSON text.
SELECT
  DATE(event_time) AS event_date,
  event_time,
  uuid AS event_id,
  event_type,
  -- Where it happened: the tracking plan sets `site` on every event (app: the product, on the
  -- web or in the mobile apps; website: the marketing site). The mobile apps are always the app,
  -- even when an old build sent a payload that does not parse.
  COALESCE(JSON_VALUE(SAFE.PARSE_JSON(event_properties), '$.site'),
           IF(platform IN ('iOS', 'Android'), 'app', 'unknown')) AS event_site,
  user_id,
  device_id,
  platform,
  country,
  -- SAFE: one malformed payload from an old app build must not fail the whole day.
  SAFE.PARSE_JSON(event_properties) AS event_properties,
  SAFE.PARSE_JSON(user_properties) AS user_properties,
  SAFE.PARSE_JSON(group_properties) AS group_properties
FROM amplitude.events
-- A range on the raw column, so that BigQuery prunes the export's partitions.
WHERE event_time >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))
  AND event_time < TIMESTAMP(@run_date)
-- The export re-delivers events when a batch is retried: one row per Amplitude uuid.
QUALIFY ROW_NUMBER() OVER (PARTITION BY uuid ORDER BY event_time) = 1
