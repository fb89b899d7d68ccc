-- Invoiced and collected revenue per calendar month and currency. Drafts are not invoices yet and
-- void ones were cancelled before payment: both are left out.
SELECT
  DATE_TRUNC(DATE(created_at), MONTH) AS invoice_month,
  currency,
  COUNT(*) AS invoices,
  COUNTIF(status = 'paid') AS paid_invoices,
  COUNTIF(status IN ('open', 'uncollectible')) AS unpaid_invoices,
  COUNT(DISTINCT IF(status = 'paid', customer_id, NULL)) AS paying_customers,
  SUM(amount_paid_cents) / 100 AS amount_paid
FROM stg_external.stg_stripe_invoices
WHERE status NOT IN ('draft', 'void')
GROUP BY invoice_month, currency
