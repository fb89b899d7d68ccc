-- Daily active editors in the iOS and Android apps per block type, for the day before the run.
-- An editor changed at least one block; a user editing two block types counts in both rows.
SELECT
  event_date,
  platform,
  COALESCE(block_type, 'unknown') AS block_type,
  COUNT(DISTINCT user_id) AS active_editors,
  COUNT(*) AS block_edits
FROM stg_external.amplitude_app_events
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND event_type = 'block_edited'
  AND user_id IS NOT NULL
GROUP BY 1, 2, 3
