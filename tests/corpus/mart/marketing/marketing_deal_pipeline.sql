-- The deal pipeline per stage: open amounts, won deals and the companies in each stage.
SELECT
  IFNULL(d.deal_stage, 'unknown') AS deal_stage,
  COUNT(*) AS deals,
  COUNTIF(d.is_won) AS won_deals,
  LOGICAL_OR(d.is_closed) AS has_closed_deals,
  ROUND(SUM(IF(NOT d.is_closed, d.amount_usd, 0)), 2) AS open_amount_usd,
  STRING_AGG(DISTINCT c.name, ' | ' ORDER BY c.name LIMIT 5) AS top_companies,
  MAX(d.close_at) AS latest_close_at
FROM stg_external.stg_hubspot_deals AS d
LEFT JOIN stg_external.stg_hubspot_companies AS c USING (company_id)
GROUP BY 1
