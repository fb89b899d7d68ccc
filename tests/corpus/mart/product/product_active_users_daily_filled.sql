-- Active users per day over the two weeks before the run, every day present (0 when nobody was
-- active), with a 7-day moving average for the weekly review.
WITH days AS (
  SELECT day
  FROM UNNEST(GENERATE_DATE_ARRAY(DATE_SUB(@run_date, INTERVAL 14 DAY), DATE_SUB(@run_date, INTERVAL 1 DAY))) AS day
),
activity AS (
  SELECT activity_date, COUNT(DISTINCT user_id) AS users, SUM(block_edits) AS block_edits
  FROM mart.product_user_activity_daily
  WHERE activity_date >= DATE_SUB(@run_date, INTERVAL 14 DAY)
  GROUP BY activity_date
)
SELECT
  d.day AS activity_date,
  IFNULL(a.users, 0) AS active_users,
  IFNULL(a.block_edits, 0) AS block_edits,
  AVG(IFNULL(a.users, 0)) OVER (ORDER BY d.day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS active_users_7d_avg
FROM days AS d
LEFT JOIN activity AS a ON a.activity_date = d.day
