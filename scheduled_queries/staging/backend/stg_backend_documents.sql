-- Current state of every editor document, from the Firestore export's change log.
WITH latest AS (
  SELECT
    document_id,
    operation,
    data,
    timestamp AS updated_at,
    MIN(timestamp) OVER (PARTITION BY document_id) AS first_write_at
  FROM firestore.documents_raw_changelog
  QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY timestamp DESC, event_id DESC) = 1
)
SELECT
  document_id,
  JSON_VALUE(data, '$.workspace_id') AS workspace_id,
  JSON_VALUE(data, '$.created_by') AS created_by_user_id,
  JSON_VALUE(data, '$.title') AS title,
  JSON_VALUE(data, '$.visibility') AS visibility,
  SAFE_CAST(JSON_VALUE(data, '$.block_count') AS INT64) AS block_count,
  COALESCE(SAFE_CAST(JSON_VALUE(data, '$.is_template') AS BOOL), FALSE) AS is_template,
  -- Trash is a soft delete the user can undo: the document stays, flagged; a hard delete is a DELETE write.
  COALESCE(SAFE_CAST(JSON_VALUE(data, '$.trashed') AS BOOL), FALSE) AS is_trashed,
  COALESCE(
    TIMESTAMP_SECONDS(SAFE_CAST(JSON_VALUE(data, '$.created_at._seconds') AS INT64)),
    first_write_at
  ) AS created_at,
  TIMESTAMP_SECONDS(SAFE_CAST(JSON_VALUE(data, '$.last_edited_at._seconds') AS INT64)) AS last_edited_at,
  JSON_VALUE(data, '$.last_edited_by') AS last_edited_by_user_id,
  updated_at
FROM latest
WHERE operation != 'DELETE'
