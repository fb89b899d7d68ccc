-- Signups per day and channel for the acquisition dashboard, with spam taken out: marketing
-- judges channels on real signups, and a spam wave must not look like a campaign success.
SELECT
  signup_date,
  channel,
  platform,
  signups,
  suspected_spam_signups,
  signups - suspected_spam_signups AS genuine_signups
FROM mart.ua_signups_by_channel
