-- One row per GA4 session of the day before the run: the session's parameters pulled out of the
-- event_params array, and where the user first came from kept as one STRUCT.
WITH events AS (
  SELECT
    e.event_date,
    e.user_pseudo_id,
    e.user_id,
    TIMESTAMP_MICROS(e.event_timestamp) AS event_time,
    e.event_name,
    -- GA4 puts every parameter in the array: read each one by key.
    (SELECT p.value.int_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'ga_session_id') AS session_id,
    (SELECT p.value.string_value FROM UNNEST(e.event_params) AS p WHERE p.key = 'page_location') AS page_location,
    e.device.category AS device_category,
    e.traffic_source
  FROM ga4.events AS e
  WHERE e.event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
)
SELECT
  event_date AS session_date,
  CONCAT(user_pseudo_id, '.', CAST(session_id AS STRING)) AS session_key,
  user_pseudo_id,
  -- A session may sign in half way: its user is the last one seen.
  ARRAY_AGG(user_id IGNORE NULLS ORDER BY event_time DESC)[SAFE_OFFSET(0)] AS user_id,
  MIN(event_time) AS started_at,
  COUNTIF(event_name = 'page_view') AS page_views,
  ARRAY_AGG(page_location IGNORE NULLS ORDER BY event_time)[SAFE_OFFSET(0)] AS landing_page,
  ANY_VALUE(device_category) AS device_category,
  STRUCT(
    ANY_VALUE(traffic_source.source) AS source,
    ANY_VALUE(traffic_source.medium) AS medium,
    ANY_VALUE(traffic_source.name) AS campaign
  ) AS first_touch
FROM events
WHERE session_id IS NOT NULL
GROUP BY event_date, user_pseudo_id, session_id
