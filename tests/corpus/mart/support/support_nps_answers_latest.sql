-- The latest version of each NPS answer (Stitch appends a row per change), the score read
-- safely from the text, and the comment's length.
SELECT
  response_id,
  user_id,
  SAFE_CAST(NULLIF(TRIM(answer), '') AS INT64) AS score,
  SAFE_DIVIDE(SAFE_CAST(answer AS INT64), 10) AS score_share,
  completed_at
FROM stg_external.stg_refiner_answers
WHERE form_name = 'NPS'
  AND question LIKE 'How likely%'
QUALIFY ROW_NUMBER() OVER (PARTITION BY response_id ORDER BY loaded_at DESC) = 1
