-- Per-account end users (extensions/tenancy/end_users.py): an account's end user is stored as
-- `<account_id>/<id>`. LiteLLM's spend writer creates end-user rows in the system context, where
-- no parent row names the account, so the account is taken from the id's own prefix.
-- Idempotent: CREATE OR REPLACE + DROP TRIGGER IF EXISTS.
CREATE OR REPLACE FUNCTION atrium_stamp_end_user_account() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.account_id IS NULL
       AND NEW.user_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/' THEN
        SELECT a.account_id INTO NEW.account_id FROM "Atrium_Account" a
        WHERE a.account_id = split_part(NEW.user_id, '/', 1);
    END IF;
    RETURN NEW;
END
$fn$;

DROP TRIGGER IF EXISTS "atrium_stamp_end_user_account" ON "LiteLLM_EndUserTable";
CREATE TRIGGER "atrium_stamp_end_user_account" BEFORE INSERT ON "LiteLLM_EndUserTable"
    FOR EACH ROW EXECUTE FUNCTION atrium_stamp_end_user_account();
