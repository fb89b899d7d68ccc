-- Signups of the day before the run per acquisition channel and platform. The channel comes from
-- the UTM parameters the backend stored at signup; when it has none (OAuth and app-store
-- redirects drop them), from Amplitude's first-touch user properties on the signup day.
WITH signups AS (
  SELECT user_id, signup_date, signup_platform, signup_source, signup_medium
  FROM mart.core_users
  WHERE signup_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
),

first_touch AS (
  SELECT
    user_id,
    LOWER(JSON_VALUE(user_properties, '$.initial_utm_source')) AS utm_source,
    LOWER(JSON_VALUE(user_properties, '$.initial_utm_medium')) AS utm_medium
  FROM stg_external.amplitude_events
  WHERE event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
    AND user_id IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY event_time) = 1
),

attributed AS (
  SELECT
    s.signup_date,
    COALESCE(s.signup_platform, 'unknown') AS platform,
    -- Source and medium from the same place, never one from each.
    IF(s.signup_source IS NOT NULL, s.signup_source, f.utm_source) AS source,
    IF(s.signup_source IS NOT NULL, s.signup_medium, f.utm_medium) AS medium,
    spam.user_id IS NOT NULL AS is_suspected_spam
  FROM signups AS s
  LEFT JOIN first_touch AS f ON f.user_id = s.user_id
  LEFT JOIN mart.spam_suspicious_signups AS spam ON spam.user_id = s.user_id
),

channels AS (
  SELECT
    signup_date,
    CASE
      WHEN source = 'invite' THEN 'invite'
      WHEN source IN ('app_store', 'play_store') THEN 'app_store'
      WHEN medium IN ('cpc', 'ppc', 'paid', 'paid_social')
        AND source IN ('facebook', 'instagram', 'linkedin', 'tiktok', 'twitter', 'reddit') THEN 'paid_social'
      WHEN medium IN ('cpc', 'ppc', 'paid') THEN 'paid_search'
      WHEN medium = 'organic' OR source IN ('google', 'bing', 'duckduckgo') THEN 'organic_search'
      WHEN medium = 'email' THEN 'email'
      WHEN medium = 'referral' THEN 'referral'
      WHEN source IS NULL THEN 'direct'
      ELSE 'other'
    END AS channel,
    platform,
    is_suspected_spam
  FROM attributed
)

SELECT
  signup_date,
  channel,
  platform,
  COUNT(*) AS signups,
  COUNTIF(is_suspected_spam) AS suspected_spam_signups
FROM channels
GROUP BY signup_date, channel, platform
