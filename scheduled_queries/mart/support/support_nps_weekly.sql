-- NPS per ISO week (Monday to Sunday): % promoters minus % detractors, from -100 to 100.
SELECT
  DATE_TRUNC(response_date, WEEK(MONDAY)) AS week_start,
  COUNT(*) AS responses,
  COUNTIF(category = 'promoter') AS promoters,
  COUNTIF(category = 'passive') AS passives,
  COUNTIF(category = 'detractor') AS detractors,
  ROUND(100 * (COUNTIF(category = 'promoter') - COUNTIF(category = 'detractor')) / COUNT(*), 1) AS nps
FROM mart.support_nps_responses
GROUP BY week_start
