-- Each Stripe customer with the Hubspot contact of the same person: e-mails compared after
-- normalization (case, spaces, +tags), the most recent contact when several match.
CREATE TEMP FUNCTION is_webmail(domain STRING) RETURNS BOOL AS (
  IFNULL(domain IN ('gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com'), FALSE)
);

SELECT
  c.customer_id,
  h.contact_id,
  mart.normalize_email(c.email) AS email,
  mart.email_domain(c.email) AS email_domain,
  is_webmail(mart.email_domain(c.email)) AS is_webmail
FROM stg_external.stg_stripe_customers AS c
LEFT JOIN stg_external.stg_hubspot_contacts AS h
  ON mart.normalize_email(h.email) = mart.normalize_email(c.email)
QUALIFY ROW_NUMBER() OVER (PARTITION BY c.customer_id ORDER BY h.created_at DESC) = 1
