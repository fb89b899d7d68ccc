LOWER(REGEXP_EXTRACT(url, CONCAT(r'[?&]utm_', parameter, r'=([^&#]+)')))
