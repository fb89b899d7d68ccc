(
  SELECT LOWER(SPLIT(pair, '=')[SAFE_OFFSET(1)])
  FROM UNNEST(SPLIT(REGEXP_EXTRACT(url, r'\?([^#]*)'), '&')) AS pair
  WHERE SPLIT(pair, '=')[SAFE_OFFSET(0)] = CONCAT('utm_', parameter)
  LIMIT 1
)
