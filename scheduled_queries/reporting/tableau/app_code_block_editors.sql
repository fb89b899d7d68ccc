-- The company's documented example of reading the app events, unchanged but for the dataset name:
-- per day over the past 7 days, the editors who inserted a code block in a public space.
SELECT
  event_date,
  COUNT(DISTINCT user_id) AS editors
FROM stg_external.amplitude_app_events
WHERE event_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY)
  AND event_name = 'edit_page_document_insert_block'
  AND JSON_EXTRACT_SCALAR(event_properties, '$.blockType') = 'code'
  AND JSON_EXTRACT_SCALAR(space_properties, '$.spaceVisibility') = 'public'
GROUP BY event_date
ORDER BY event_date
