-- One UTC day of the Amplitude export (the day before the run), typed once so that nothing
-- downstream scans the massive raw table or re-parses its JSON text.
SELECT
  DATE(event_time) AS event_date,
  event_time,
  uuid AS event_id,
  event_type,
  user_id,
  device_id,
  platform,
  country,
  COALESCE(platform IN ('iOS', 'Android'), FALSE) AS is_app,
  -- SAFE: one malformed payload from an old app build must not fail the whole day.
  SAFE.PARSE_JSON(event_properties) AS event_properties,
  SAFE.PARSE_JSON(user_properties) AS user_properties
FROM amplitude.events
-- A range on the raw column, so that BigQuery prunes the export's partitions.
WHERE event_time >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))
  AND event_time < TIMESTAMP(@run_date)
-- The export re-delivers events when a batch is retried: one row per Amplitude uuid.
QUALIFY ROW_NUMBER() OVER (PARTITION BY uuid ORDER BY event_time) = 1
