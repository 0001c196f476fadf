-- Account models and credentials carry their owner twice: in the account_id column (database
-- scoping, analytics) and in model_info / credential_info (every worker's in-memory router).
-- This keeps the two equal whoever writes the row: the column is filled from the JSON on
-- insert, and once set it is written back into the JSON if an update dropped it, so an edit
-- can never turn an account's model into a global one. Idempotent.
CREATE OR REPLACE FUNCTION atrium_stamp_owner_from_json() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    info_column text := TG_ARGV[0];
    info jsonb := COALESCE(to_jsonb(NEW) -> info_column, '{}'::jsonb);
    owner text;
BEGIN
    IF jsonb_typeof(info) = 'string' THEN
        info := (info #>> '{}')::jsonb;
    END IF;
    owner := NULLIF(info ->> 'atrium_account_id', '');
    IF NEW.account_id IS NULL THEN
        NEW.account_id := owner;
    ELSIF owner IS DISTINCT FROM NEW.account_id THEN
        info := jsonb_set(info, '{atrium_account_id}', to_jsonb(NEW.account_id));
        NEW := jsonb_populate_record(NEW, jsonb_build_object(info_column, info));
    END IF;
    RETURN NEW;
END
$fn$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'atrium_model_owner') THEN
        CREATE TRIGGER atrium_model_owner BEFORE INSERT OR UPDATE ON "LiteLLM_ProxyModelTable"
            FOR EACH ROW EXECUTE FUNCTION atrium_stamp_owner_from_json('model_info');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'atrium_credential_owner') THEN
        CREATE TRIGGER atrium_credential_owner BEFORE INSERT OR UPDATE ON "LiteLLM_CredentialsTable"
            FOR EACH ROW EXECUTE FUNCTION atrium_stamp_owner_from_json('credential_info');
    END IF;
END
$$;
