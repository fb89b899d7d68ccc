-- App sessions per user on the day before the run, from the sessions table function.
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS session_date,
  s.user_id,
  COUNT(*) AS sessions,
  SUM(s.events) AS events,
  SUM(TIMESTAMP_DIFF(s.ended_at, s.started_at, SECOND)) AS seconds_in_sessions
FROM mart.user_sessions(NULL, DATE_SUB(@run_date, INTERVAL 1 DAY)) AS s
GROUP BY s.user_id
