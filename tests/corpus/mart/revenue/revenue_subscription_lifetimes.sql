-- How long each Stripe subscription lived (or has lived so far), in days and whole months, with
-- the month it started and the last day of that month, for the retention curves.
SELECT
  subscription_id,
  customer_id,
  DATE(created_at) AS started_on,
  FORMAT_DATE('%Y-%m', DATE(created_at)) AS start_month,
  LAST_DAY(DATE(created_at), MONTH) AS start_month_end,
  DATE_DIFF(COALESCE(DATE(canceled_at), DATE_SUB(@run_date, INTERVAL 1 DAY)), DATE(created_at), DAY) AS lifetime_days,
  DATE_DIFF(COALESCE(DATE(canceled_at), DATE_SUB(@run_date, INTERVAL 1 DAY)), DATE(created_at), MONTH)
    AS lifetime_months,
  EXTRACT(DAYOFWEEK FROM created_at) AS start_weekday,
  canceled_at IS NOT NULL AS is_canceled
FROM stg_external.stg_stripe_subscriptions
WHERE created_at < TIMESTAMP(@run_date)
