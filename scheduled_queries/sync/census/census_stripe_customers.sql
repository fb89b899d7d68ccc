-- The ids Census writes into each Stripe customer's metadata, so that finance can go from an
-- invoice to the Hubspot contact and the workspace.
SELECT
  stripe_customer_id,
  user_id,
  email,
  hubspot_contact_id,
  default_workspace_id AS workspace_id
FROM mart.core_users
WHERE stripe_customer_id IS NOT NULL
