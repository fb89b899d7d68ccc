-- What each signed-in user did in each workspace on the day before the run, on the web and in
-- the mobile apps. Events outside a workspace (open_app, sign_up) make a row with no workspace_id.
SELECT
  event_date AS activity_date,
  user_id,
  JSON_VALUE(event_properties, '$.workspaceId') AS workspace_id,
  COUNT(*) AS events,
  COUNTIF(event_type IN ('edit_page_document_insert_block', 'edit_page_document_update_block',
                         'edit_page_document_delete_block')) AS block_edits,
  COUNT(DISTINCT IF(STARTS_WITH(event_type, 'edit_page_document_'), JSON_VALUE(event_properties, '$.pageId'), NULL))
    AS documents_edited,
  LOGICAL_OR(event_site = 'app' AND platform = 'Web') AS used_web,
  LOGICAL_OR(platform IN ('iOS', 'Android')) AS used_app,
  MIN(event_time) AS first_event_at,
  MAX(event_time) AS last_event_at
FROM stg_external.amplitude_events
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND user_id IS NOT NULL
GROUP BY activity_date, user_id, workspace_id
