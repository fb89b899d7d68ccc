-- One row per answered question of a Refiner survey response, in its latest version (Stitch
-- appends a row each time a respondent changes an answer or finishes the survey).
SELECT
  response_id,
  form_name,
  user_id,
  question,
  answer,
  -- Rating questions arrive as digits; free-text answers get no score.
  SAFE_CAST(TRIM(answer) AS INT64) AS score,
  completed_at,
  _sdc_batched_at AS loaded_at
FROM refiner.responses
QUALIFY ROW_NUMBER() OVER (PARTITION BY response_id, question ORDER BY _sdc_batched_at DESC) = 1
