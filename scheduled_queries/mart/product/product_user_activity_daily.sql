-- What each signed-in user did in each workspace on the day before the run, on the web and in
-- the apps. Events outside a workspace (app_opened, sign_up) make a row with no workspace_id.
SELECT
  event_date AS activity_date,
  user_id,
  JSON_VALUE(event_properties, '$.workspace_id') AS workspace_id,
  COUNT(*) AS events,
  COUNTIF(event_type = 'block_edited') AS block_edits,
  COUNT(DISTINCT IF(event_type = 'block_edited', JSON_VALUE(event_properties, '$.document_id'), NULL))
    AS documents_edited,
  LOGICAL_OR(NOT is_app) AS used_web,
  LOGICAL_OR(is_app) AS used_app,
  MIN(event_time) AS first_event_at,
  MAX(event_time) AS last_event_at
FROM stg_external.amplitude_events
WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND user_id IS NOT NULL
GROUP BY activity_date, user_id, workspace_id
