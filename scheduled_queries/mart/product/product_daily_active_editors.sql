-- Daily active editors of the app (web and mobile) per platform and block type, for the day
-- before the run. An editor changed at least one block; a user editing two block types counts in
-- both rows.
SELECT
  event_date,
  platform,
  COALESCE(block_type, 'unknown') AS block_type,
  COUNT(DISTINCT user_id) AS active_editors,
  COUNT(*) AS block_edits
FROM stg_external.amplitude_app_events
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND event_name IN ('edit_page_document_insert_block', 'edit_page_document_update_block',
                     'edit_page_document_delete_block')
  AND user_id IS NOT NULL
GROUP BY 1, 2, 3
