-- Monthly invoicing and collection for the finance dashboard.
SELECT
  invoice_month,
  currency,
  invoices,
  paid_invoices,
  unpaid_invoices,
  paying_customers,
  amount_paid
FROM mart.revenue_invoices_monthly
