-- Workspaces with their owner's e-mail and signup date, for the account managers' Tableau board.
SELECT
  w.* EXCEPT (stripe_customer_id, stripe_subscription_id, canceled_at),
  u.email AS owner_email,
  u.signup_date AS owner_signup_date
FROM mart.core_workspaces AS w
LEFT JOIN mart.core_users AS u ON u.user_id = w.owner_user_id
