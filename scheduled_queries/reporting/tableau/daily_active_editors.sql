-- Daily active editors of the app (web and mobile) per block type, for the product dashboard.
SELECT
  event_date,
  platform,
  block_type,
  active_editors,
  block_edits
FROM mart.product_daily_active_editors
