-- Invoiced and collected revenue of the month so far, per currency, as of the day before the run.
-- The month's row is replaced each day; on the 1st the previous month gets its final figures.
DECLARE as_of DATE DEFAULT DATE_SUB(@run_date, INTERVAL 1 DAY);
DECLARE month_start DATE;

SET month_start = DATE_TRUNC(DATE_SUB(@run_date, INTERVAL 1 DAY), MONTH);

BEGIN TRANSACTION;

DELETE FROM mart.revenue_invoiced_month_to_date
WHERE invoice_month = month_start;

INSERT INTO mart.revenue_invoiced_month_to_date (invoice_month, as_of_date, currency, invoices, amount_paid)
SELECT
  month_start,
  as_of,
  currency,
  COUNT(*),
  SUM(amount_paid_cents) / 100
FROM stg_external.stg_stripe_invoices
WHERE DATE(created_at) BETWEEN month_start AND as_of
  AND status NOT IN ('draft', 'void')
GROUP BY currency;

COMMIT TRANSACTION;
