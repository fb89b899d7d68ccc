-- The parts of each Hubspot contact's e-mail address: the local part, the domain and each label
-- of the domain (acme.co.uk -> acme, co, uk), for the company matching rules. The labels are an
-- array column of the WITH query, unnested by its path (`s.labels`).
WITH contacts AS (
  SELECT id, LOWER(TRIM(property_email)) AS email
  FROM hubspot.contact
  WHERE property_email LIKE '%@%'
    AND NOT IFNULL(_fivetran_deleted, FALSE)
),
split AS (
  SELECT id, email, SPLIT(SPLIT(email, '@')[SAFE_OFFSET(1)], '.') AS labels
  FROM contacts
)
SELECT
  s.id AS contact_id,
  SPLIT(s.email, '@')[SAFE_OFFSET(0)] AS local_part,
  ARRAY_TO_STRING(s.labels, '.') AS domain,
  label
FROM split AS s, s.labels AS label
