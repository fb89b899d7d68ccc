-- A 10% sample of the day's product events, for the tracking-plan audit (cheap to scan by hand).
SELECT event_date, event_id, event_type, platform
FROM stg_external.amplitude_events TABLESAMPLE SYSTEM (10 PERCENT)
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
