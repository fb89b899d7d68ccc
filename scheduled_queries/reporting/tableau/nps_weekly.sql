-- Weekly NPS for the support dashboard.
SELECT
  week_start,
  responses,
  promoters,
  passives,
  detractors,
  nps
FROM mart.support_nps_weekly
