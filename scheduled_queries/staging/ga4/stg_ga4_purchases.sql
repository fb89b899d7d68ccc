-- One row per web purchase of the day before the run, with its items as an array of structs:
-- the items are unnested to price each line, then gathered back per purchase.
SELECT
  e.event_date AS purchase_date,
  e.ecommerce.transaction_id,
  e.user_pseudo_id,
  e.user_id,
  TIMESTAMP_MICROS(e.event_timestamp) AS purchased_at,
  SUM(item.price * item.quantity) AS revenue,
  ARRAY_AGG(STRUCT(
    item.item_id AS plan_id,
    item.quantity AS seats,
    item.price * item.quantity AS revenue
  ) ORDER BY item.item_id) AS lines
FROM ga4.events AS e
CROSS JOIN UNNEST(e.items) AS item
WHERE e.event_date = DATE_SUB(@run_date, INTERVAL 1 DAY)
  AND e.event_name = 'purchase'
GROUP BY purchase_date, e.ecommerce.transaction_id, e.user_pseudo_id, e.user_id, purchased_at
