-- Approximate weekly users of each product event over the four weeks before the run, for the
-- feature adoption dashboard. HyperLogLog counts are within about 1%, enough for trends.
SELECT
  DATE_TRUNC(event_date, WEEK(MONDAY)) AS week_start,
  event_type,
  APPROX_COUNT_DISTINCT(user_id) AS approx_users,
  COUNT(*) AS events
FROM stg_external.amplitude_events
WHERE event_date >= DATE_SUB(@run_date, INTERVAL 28 DAY)
  AND event_date < @run_date
  AND event_site = 'app'
  AND user_id IS NOT NULL
GROUP BY week_start, event_type
HAVING COUNT(*) >= 1
