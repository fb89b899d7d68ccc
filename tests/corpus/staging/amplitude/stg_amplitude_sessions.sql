-- Sessions of signed-in users on the day before the run: a new session starts after 30 minutes
-- without an event (the same rule as Amplitude's own session ids, which the export leaves empty).
WITH events AS (
  SELECT
    user_id,
    event_time,
    IF(TIMESTAMP_DIFF(event_time, LAG(event_time) OVER (PARTITION BY user_id ORDER BY event_time), MINUTE) <= 30,
       0, 1) AS starts_session
  FROM amplitude.events
  WHERE event_time >= TIMESTAMP(DATE_SUB(@run_date, INTERVAL 1 DAY))
    AND event_time < TIMESTAMP(@run_date)
    AND user_id IS NOT NULL
),
numbered AS (
  SELECT
    user_id,
    event_time,
    SUM(starts_session) OVER (PARTITION BY user_id ORDER BY event_time
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session_number
  FROM events
)
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS session_date,
  user_id,
  session_number,
  MIN(event_time) AS session_start,
  MAX(event_time) AS session_end,
  COUNT(*) AS events,
  TIMESTAMP_DIFF(MAX(event_time), MIN(event_time), SECOND) AS duration_seconds
FROM numbered
GROUP BY user_id, session_number
