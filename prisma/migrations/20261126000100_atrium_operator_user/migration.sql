-- The operator's own user row (LiteLLM's master-key user, `default_user_id`) belongs to no account.
-- Before this, a super admin acting in an account stamped it with that account the first time
-- LiteLLM added it to a team there; the stamping trigger then attributed the operator's own later
-- requests (spend logs, daily spend) to that account. Idempotent.
UPDATE "LiteLLM_UserTable" SET account_id = NULL WHERE user_id = 'default_user_id' AND account_id IS NOT NULL;
