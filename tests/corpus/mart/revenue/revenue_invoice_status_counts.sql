-- Paid and unpaid invoices per month as rows rather than columns, for a stacked chart.
SELECT invoice_month, currency, invoice_status, invoice_count
FROM mart.revenue_invoices_monthly
UNPIVOT (invoice_count FOR invoice_status IN (paid_invoices AS 'paid', unpaid_invoices AS 'unpaid'))
