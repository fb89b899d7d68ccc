-- On which of the last 28 days each user was active, as bits: bit 0 is the day processed (the day
-- before the run), bit n the day n days before it. Each day shifts the day before's row by one
-- and sets bit 0 for the users active that day; a user idle for 28 days drops out.
WITH active AS (
  SELECT DISTINCT user_id
  FROM mart.product_user_activity_daily
  WHERE activity_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
),
day_before AS (
  SELECT user_id, days_seen_bits
  FROM mart.product_user_last_seen
  WHERE as_of_date = DATE_SUB(@run_date, INTERVAL 2 DAY)
),
shifted AS (
  SELECT
    COALESCE(a.user_id, d.user_id) AS user_id,
    ((IFNULL(d.days_seen_bits, 0) << 1) & ((1 << 28) - 1)) | IF(a.user_id IS NULL, 0, 1) AS days_seen_bits
  FROM active AS a
  FULL OUTER JOIN day_before AS d ON d.user_id = a.user_id
)
SELECT
  DATE_SUB(@run_date, INTERVAL 1 DAY) AS as_of_date,
  user_id,
  days_seen_bits,
  BIT_COUNT(days_seen_bits) AS active_days_28,
  BIT_COUNT(days_seen_bits & 127) > 0 AS active_7
FROM shifted
WHERE days_seen_bits > 0
