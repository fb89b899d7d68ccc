WITH events AS (
  SELECT
    user_id,
    event_time,
    IF(
      TIMESTAMP_DIFF(event_time, LAG(event_time) OVER (PARTITION BY user_id ORDER BY event_time), MINUTE) < 30,
      0, 1
    ) AS starts_session
  FROM stg_external.amplitude_events
  WHERE event_date = on_day
    AND event_site = 'app'
    AND user_id IS NOT NULL
    AND (for_user IS NULL OR user_id = for_user)
),

numbered AS (
  SELECT
    user_id,
    event_time,
    SUM(starts_session) OVER (PARTITION BY user_id ORDER BY event_time) AS session_number
  FROM events
)

SELECT
  user_id,
  session_number,
  MIN(event_time) AS started_at,
  MAX(event_time) AS ended_at,
  COUNT(*) AS events
FROM numbered
GROUP BY user_id, session_number
