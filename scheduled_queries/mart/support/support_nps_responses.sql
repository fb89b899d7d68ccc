-- One row per completed NPS response: the 0-10 score, its category and the comment. Refiner
-- asks two questions (the score, then why); a response the user dismissed before the end has
-- no completed_at and does not count.
WITH responses AS (
  SELECT
    response_id,
    ANY_VALUE(user_id) AS user_id,
    MAX(completed_at) AS completed_at,
    MAX(IF(STARTS_WITH(LOWER(question), 'how likely'), score, NULL)) AS score,
    MAX(IF(STARTS_WITH(LOWER(question), 'how likely'), NULL, NULLIF(TRIM(answer), ''))) AS comment
  FROM stg_external.stg_refiner_answers
  WHERE form_name = 'NPS'
  GROUP BY response_id
)

SELECT
  r.response_id,
  r.user_id,
  u.default_workspace_id AS workspace_id,
  r.completed_at AS responded_at,
  DATE(r.completed_at) AS response_date,
  r.score,
  CASE
    WHEN r.score >= 9 THEN 'promoter'
    WHEN r.score >= 7 THEN 'passive'
    ELSE 'detractor'
  END AS category,
  r.comment
FROM responses AS r
LEFT JOIN stg_external.stg_backend_users AS u ON u.user_id = r.user_id
WHERE r.completed_at IS NOT NULL
  AND r.score BETWEEN 0 AND 10
