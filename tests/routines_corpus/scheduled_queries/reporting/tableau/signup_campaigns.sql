-- Signups per UTM campaign and source, for the campaign dashboard.
SELECT
  signup_date,
  COALESCE(mart.utm_parameter(CONCAT('?utm_campaign=', signup_campaign), 'campaign'), 'none') AS campaign,
  COALESCE(signup_source, 'none') AS source,
  COUNT(*) AS signups
FROM mart.core_users
GROUP BY signup_date, campaign, source
