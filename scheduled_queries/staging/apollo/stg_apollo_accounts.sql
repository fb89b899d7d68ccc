-- Latest version of every Apollo account, with its domain reduced to the bare host
-- (Apollo stores what was typed: "https://www.Acme.io/", "acme.io").
SELECT
  id AS account_id,
  name,
  REGEXP_EXTRACT(LOWER(TRIM(domain)), r'^(?:https?://)?(?:www\.)?([^/:]+)') AS domain,
  industry,
  employee_count,
  updated_at
FROM apollo.accounts
QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1
