-- GENERATED from extensions/tenancy/stamping.py (trigger_migration_sql); idempotent.
-- Fills NEW.account_id from the first parent row found; arguments come in triples:
-- (column of NEW, parent table, parent key column).
CREATE OR REPLACE FUNCTION atrium_stamp_account_id() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    row_json jsonb := to_jsonb(NEW);
    i int := 0;
    parent_value text;
    found_account text;
BEGIN
    IF NEW.account_id IS NOT NULL THEN
        RETURN NEW;
    END IF;
    WHILE i + 2 < TG_NARGS LOOP
        parent_value := row_json ->> TG_ARGV[i];
        IF parent_value IS NOT NULL AND parent_value <> '' THEN
            EXECUTE format('SELECT account_id FROM %I WHERE %I = $1', TG_ARGV[i + 1], TG_ARGV[i + 2])
                INTO found_account USING parent_value;
            IF found_account IS NOT NULL THEN
                NEW.account_id := found_account;
                RETURN NEW;
            END IF;
        END IF;
        i := i + 3;
    END LOOP;
    RETURN NEW;
END
$fn$;

-- Defence in depth: a key can never point at a team of another account.
CREATE OR REPLACE FUNCTION atrium_check_key_team_account() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    team_account text;
BEGIN
    IF NEW.team_id IS NOT NULL AND NEW.account_id IS NOT NULL THEN
        SELECT account_id INTO team_account FROM "LiteLLM_TeamTable" WHERE team_id = NEW.team_id;
        IF team_account IS NOT NULL AND team_account <> NEW.account_id THEN
            RAISE EXCEPTION 'atrium: team % belongs to another account', NEW.team_id
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;

DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_VerificationToken" ON "LiteLLM_VerificationToken";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_VerificationToken" BEFORE INSERT ON "LiteLLM_VerificationToken" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('team_id', 'LiteLLM_TeamTable', 'team_id', 'user_id', 'LiteLLM_UserTable', 'user_id', 'organization_id', 'LiteLLM_OrganizationTable', 'organization_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DeletedVerificationToken" ON "LiteLLM_DeletedVerificationToken";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DeletedVerificationToken" BEFORE INSERT ON "LiteLLM_DeletedVerificationToken" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('team_id', 'LiteLLM_TeamTable', 'team_id', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_JWTKeyMapping" ON "LiteLLM_JWTKeyMapping";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_JWTKeyMapping" BEFORE INSERT ON "LiteLLM_JWTKeyMapping" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('token', 'LiteLLM_VerificationToken', 'token');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_TeamTable" ON "LiteLLM_TeamTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_TeamTable" BEFORE INSERT ON "LiteLLM_TeamTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('organization_id', 'LiteLLM_OrganizationTable', 'organization_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_UserTable" ON "LiteLLM_UserTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_UserTable" BEFORE INSERT ON "LiteLLM_UserTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('organization_id', 'LiteLLM_OrganizationTable', 'organization_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_TeamMembership" ON "LiteLLM_TeamMembership";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_TeamMembership" BEFORE INSERT ON "LiteLLM_TeamMembership" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('team_id', 'LiteLLM_TeamTable', 'team_id', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_OrganizationMembership" ON "LiteLLM_OrganizationMembership";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_OrganizationMembership" BEFORE INSERT ON "LiteLLM_OrganizationMembership" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('organization_id', 'LiteLLM_OrganizationTable', 'organization_id', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_ProjectTable" ON "LiteLLM_ProjectTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_ProjectTable" BEFORE INSERT ON "LiteLLM_ProjectTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('team_id', 'LiteLLM_TeamTable', 'team_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_SpendLogs" ON "LiteLLM_SpendLogs";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_SpendLogs" BEFORE INSERT ON "LiteLLM_SpendLogs" FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM 'failure' OR coalesce(NEW.metadata -> 'error_information' ->> 'error_code', '') NOT IN ('401', '403')) EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'team_id', 'LiteLLM_TeamTable', 'team_id', 'user', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_AuditLog" ON "LiteLLM_AuditLog";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_AuditLog" BEFORE INSERT ON "LiteLLM_AuditLog" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('changed_by_api_key', 'LiteLLM_VerificationToken', 'token');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DailyUserSpend" ON "LiteLLM_DailyUserSpend";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DailyUserSpend" BEFORE INSERT ON "LiteLLM_DailyUserSpend" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DailyTeamSpend" ON "LiteLLM_DailyTeamSpend";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DailyTeamSpend" BEFORE INSERT ON "LiteLLM_DailyTeamSpend" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'team_id', 'LiteLLM_TeamTable', 'team_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DailyOrganizationSpend" ON "LiteLLM_DailyOrganizationSpend";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DailyOrganizationSpend" BEFORE INSERT ON "LiteLLM_DailyOrganizationSpend" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'organization_id', 'LiteLLM_OrganizationTable', 'organization_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DailyEndUserSpend" ON "LiteLLM_DailyEndUserSpend";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DailyEndUserSpend" BEFORE INSERT ON "LiteLLM_DailyEndUserSpend" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DailyAgentSpend" ON "LiteLLM_DailyAgentSpend";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DailyAgentSpend" BEFORE INSERT ON "LiteLLM_DailyAgentSpend" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DailyTagSpend" ON "LiteLLM_DailyTagSpend";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DailyTagSpend" BEFORE INSERT ON "LiteLLM_DailyTagSpend" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DailyRequestErrors" ON "LiteLLM_DailyRequestErrors";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DailyRequestErrors" BEFORE INSERT ON "LiteLLM_DailyRequestErrors" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'team_id', 'LiteLLM_TeamTable', 'team_id', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_DailyGuardrailUsageUnits" ON "LiteLLM_DailyGuardrailUsageUnits";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_DailyGuardrailUsageUnits" BEFORE INSERT ON "LiteLLM_DailyGuardrailUsageUnits" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'team_id', 'LiteLLM_TeamTable', 'team_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_ManagedObjectTable" ON "LiteLLM_ManagedObjectTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_ManagedObjectTable" BEFORE INSERT ON "LiteLLM_ManagedObjectTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'team_id', 'LiteLLM_TeamTable', 'team_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_ManagedFileTable" ON "LiteLLM_ManagedFileTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_ManagedFileTable" BEFORE INSERT ON "LiteLLM_ManagedFileTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('team_id', 'LiteLLM_TeamTable', 'team_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_ManagedVectorStoreTable" ON "LiteLLM_ManagedVectorStoreTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_ManagedVectorStoreTable" BEFORE INSERT ON "LiteLLM_ManagedVectorStoreTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('team_id', 'LiteLLM_TeamTable', 'team_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_ManagedVectorStoresTable" ON "LiteLLM_ManagedVectorStoresTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_ManagedVectorStoresTable" BEFORE INSERT ON "LiteLLM_ManagedVectorStoresTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('team_id', 'LiteLLM_TeamTable', 'team_id', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_MemoryTable" ON "LiteLLM_MemoryTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_MemoryTable" BEFORE INSERT ON "LiteLLM_MemoryTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('team_id', 'LiteLLM_TeamTable', 'team_id', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_ToolTable" ON "LiteLLM_ToolTable";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_ToolTable" BEFORE INSERT ON "LiteLLM_ToolTable" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('key_hash', 'LiteLLM_VerificationToken', 'token', 'team_id', 'LiteLLM_TeamTable', 'team_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_InvitationLink" ON "LiteLLM_InvitationLink";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_InvitationLink" BEFORE INSERT ON "LiteLLM_InvitationLink" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_UserNotifications" ON "LiteLLM_UserNotifications";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_UserNotifications" BEFORE INSERT ON "LiteLLM_UserNotifications" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_MCPUserCredentials" ON "LiteLLM_MCPUserCredentials";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_MCPUserCredentials" BEFORE INSERT ON "LiteLLM_MCPUserCredentials" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_UserProviderCredentials" ON "LiteLLM_UserProviderCredentials";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_UserProviderCredentials" BEFORE INSERT ON "LiteLLM_UserProviderCredentials" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_MCPUserEnvVars" ON "LiteLLM_MCPUserEnvVars";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_MCPUserEnvVars" BEFORE INSERT ON "LiteLLM_MCPUserEnvVars" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_SSOIdentityAssertion" ON "LiteLLM_SSOIdentityAssertion";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_SSOIdentityAssertion" BEFORE INSERT ON "LiteLLM_SSOIdentityAssertion" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_VerifiedSubject" ON "LiteLLM_VerifiedSubject";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_VerifiedSubject" BEFORE INSERT ON "LiteLLM_VerifiedSubject" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_AutoRouterSession" ON "LiteLLM_AutoRouterSession";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_AutoRouterSession" BEFORE INSERT ON "LiteLLM_AutoRouterSession" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_AutoRouterUserSession" ON "LiteLLM_AutoRouterUserSession";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_AutoRouterUserSession" BEFORE INSERT ON "LiteLLM_AutoRouterUserSession" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_stamp_account_id_LiteLLM_AutoRouterDailySpend" ON "LiteLLM_AutoRouterDailySpend";
CREATE TRIGGER "atrium_stamp_account_id_LiteLLM_AutoRouterDailySpend" BEFORE INSERT ON "LiteLLM_AutoRouterDailySpend" FOR EACH ROW EXECUTE FUNCTION atrium_stamp_account_id('api_key', 'LiteLLM_VerificationToken', 'token', 'user_id', 'LiteLLM_UserTable', 'user_id');
DROP TRIGGER IF EXISTS "atrium_check_key_team_account" ON "LiteLLM_VerificationToken";
CREATE TRIGGER "atrium_check_key_team_account" BEFORE INSERT OR UPDATE OF team_id, account_id ON "LiteLLM_VerificationToken" FOR EACH ROW EXECUTE FUNCTION atrium_check_key_team_account();
