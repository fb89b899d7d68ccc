IF(
  email IS NULL OR NOT CONTAINS_SUBSTR(email, '@'),
  NULLIF(LOWER(TRIM(email)), ''),
  CONCAT(
    REGEXP_REPLACE(SPLIT(LOWER(TRIM(email)), '@')[OFFSET(0)], r'\+.*$', ''),
    '@',
    SPLIT(LOWER(TRIM(email)), '@')[OFFSET(1)]
  )
)
