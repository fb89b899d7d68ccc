-- Users who edited a block for the first time on the day before the run: each user once, on the
-- first day, so that the onboarding e-mails are sent once. Users already in an earlier partition
-- are left out.
SELECT
  a.activity_date AS first_edit_date,
  a.user_id,
  MIN(a.first_event_at) AS first_seen_at,
  SUM(a.block_edits) AS block_edits
FROM mart.product_user_activity_daily AS a
WHERE a.activity_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND a.block_edits > 0
  AND NOT EXISTS (
    SELECT 1
    FROM mart.product_first_block_edits AS earlier
    WHERE earlier.first_edit_date < DATE_SUB(@run_date, INTERVAL 1 DAY)
      AND earlier.user_id = a.user_id
  )
GROUP BY a.activity_date, a.user_id
