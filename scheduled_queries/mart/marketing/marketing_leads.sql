-- One row per Hubspot contact, enriched with Apollo (job title, company, size), with what the
-- product knows about them and with their company's deals. Apollo is matched on the e-mail, else
-- its account on the e-mail's domain: never for webmail domains, where the domain says nothing
-- about the employer.
WITH apollo_person AS (
  SELECT email, title, account_id
  FROM stg_external.stg_apollo_contacts
  WHERE email IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY email ORDER BY updated_at DESC) = 1
),

apollo_account_by_domain AS (
  -- Subsidiaries share their parent's domain in Apollo: the largest account is the parent.
  SELECT domain, account_id
  FROM stg_external.stg_apollo_accounts
  WHERE domain IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY domain ORDER BY employee_count DESC, account_id) = 1
),

product_user AS (
  SELECT email, user_id, is_paying_customer, default_workspace_plan
  FROM mart.core_users
  WHERE email IS NOT NULL
  QUALIFY ROW_NUMBER() OVER (PARTITION BY email ORDER BY signup_at) = 1
),

company_deals AS (
  SELECT
    company_id,
    SUM(IF(NOT is_closed, amount_usd, 0)) AS open_deals_usd,
    LOGICAL_OR(is_won) AS has_won_deal
  FROM stg_external.stg_hubspot_deals
  WHERE company_id IS NOT NULL
  GROUP BY company_id
),

contacts AS (
  SELECT
    *,
    COALESCE(email_domain IN (
      'gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'live.com',
      'icloud.com', 'me.com', 'aol.com', 'proton.me', 'protonmail.com', 'gmx.com', 'gmx.de'
    ), FALSE) AS is_webmail
  FROM stg_external.stg_hubspot_contacts
)

SELECT
  c.contact_id,
  c.email,
  c.email_domain,
  c.is_webmail,
  c.first_name,
  c.last_name,
  c.lifecycle_stage,
  c.created_at,
  p.title AS job_title,
  COALESCE(a.name, hc.name) AS company_name,
  COALESCE(a.domain, hc.domain) AS company_domain,
  COALESCE(a.industry, hc.industry) AS industry,
  a.employee_count,
  CASE
    WHEN a.employee_count IS NULL THEN NULL
    WHEN a.employee_count <= 10 THEN '1-10'
    WHEN a.employee_count <= 50 THEN '11-50'
    WHEN a.employee_count <= 200 THEN '51-200'
    WHEN a.employee_count <= 1000 THEN '201-1000'
    WHEN a.employee_count <= 5000 THEN '1001-5000'
    ELSE '5000+'
  END AS company_size,
  u.user_id,
  u.user_id IS NOT NULL AS is_product_user,
  COALESCE(u.is_paying_customer, FALSE) AS is_paying_customer,
  u.default_workspace_plan AS workspace_plan,
  COALESCE(d.open_deals_usd, 0) AS company_open_deals_usd,
  COALESCE(d.has_won_deal, FALSE) AS company_has_won_deal
FROM contacts AS c
LEFT JOIN apollo_person AS p ON p.email = c.email
LEFT JOIN apollo_account_by_domain AS ad ON ad.domain = c.email_domain AND NOT c.is_webmail
LEFT JOIN stg_external.stg_apollo_accounts AS a ON a.account_id = COALESCE(p.account_id, ad.account_id)
LEFT JOIN stg_external.stg_hubspot_companies AS hc ON hc.company_id = c.company_id
LEFT JOIN product_user AS u ON u.email = c.email
LEFT JOIN company_deals AS d ON d.company_id = c.company_id
