-- NPS categories per workspace plan, one column per category, for the support review.
SELECT *
FROM (
  SELECT w.plan, r.category, r.response_id
  FROM mart.support_nps_responses AS r
  JOIN mart.core_workspaces AS w USING (workspace_id)
)
PIVOT (COUNT(response_id) FOR category IN ('promoter' AS promoters, 'passive' AS passives,
                                           'detractor' AS detractors))
