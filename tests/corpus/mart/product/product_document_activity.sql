-- Documents edited per workspace on the day before the run, from the app events' JSON properties,
-- with the block types touched, each as its own row (UNNEST of an array built in the query).
WITH edits AS (
  SELECT
    event_date,
    JSON_VALUE(event_properties, '$.workspaceId') AS workspace_id,
    JSON_VALUE(event_properties, '$.pageId') AS document_id,
    ARRAY_AGG(DISTINCT IFNULL(JSON_VALUE(event_properties, '$.blockType'), 'unknown')) AS block_types
  FROM stg_external.amplitude_events
  WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
    AND STARTS_WITH(event_type, 'edit_page_document_')
  GROUP BY event_date, workspace_id, document_id
)
SELECT e.event_date, e.workspace_id, e.document_id, block_type
FROM edits AS e
CROSS JOIN UNNEST(e.block_types) AS block_type
