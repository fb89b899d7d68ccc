-- The first event of each device on the day before the run, with the country and platform it came
-- from and the event that followed: where new devices land first.
SELECT
  event_date,
  device_id,
  FIRST_VALUE(event_type) OVER w AS first_event,
  FIRST_VALUE(country IGNORE NULLS) OVER w AS country,
  platform,
  LEAD(event_type) OVER w AS second_event,
  COUNT(*) OVER (PARTITION BY device_id) AS device_events
FROM stg_external.amplitude_events
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND device_id IS NOT NULL
WINDOW w AS (PARTITION BY device_id ORDER BY event_time, event_id)
QUALIFY ROW_NUMBER() OVER w = 1
