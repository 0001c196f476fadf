"""How rows written outside a tenant context still get the right ``account_id``.

LiteLLM's background writers (spend logs via ``create_many``, daily spend via raw
``INSERT ... ON CONFLICT``, audit rows) run in the system context, and some management
paths insert with raw SQL. A ``BEFORE INSERT`` trigger on each table below derives
``account_id`` from the first parent row it can find (key, team, user, organisation),
so tenant data is never left NULL, whichever path wrote it. The scoped Prisma wrapper
stamps rows created in a tenant context itself; the trigger only fills what is missing.

The trigger migration is generated from :data:`STAMP_SOURCES` by
:func:`trigger_migration_sql`; ``tests/tenancy/test_stamping.py`` checks the committed
migration is current.
"""

from __future__ import annotations

__all__ = ["STAMP_CONDITIONS", "STAMP_SOURCES", "trigger_migration_sql"]

_KEY = ("LiteLLM_VerificationToken", "token")
_TEAM = ("LiteLLM_TeamTable", "team_id")
_USER = ("LiteLLM_UserTable", "user_id")
_ORG = ("LiteLLM_OrganizationTable", "organization_id")

# table -> [(column in the new row, parent table, parent key column)], tried in order.
STAMP_SOURCES: dict[str, list[tuple[str, tuple[str, str]]]] = {
    "LiteLLM_VerificationToken": [("team_id", _TEAM), ("user_id", _USER), ("organization_id", _ORG)],
    "LiteLLM_DeletedVerificationToken": [("team_id", _TEAM), ("user_id", _USER)],
    "LiteLLM_JWTKeyMapping": [("token", _KEY)],
    "LiteLLM_TeamTable": [("organization_id", _ORG)],
    "LiteLLM_UserTable": [("organization_id", _ORG)],
    "LiteLLM_TeamMembership": [("team_id", _TEAM), ("user_id", _USER)],
    "LiteLLM_OrganizationMembership": [("organization_id", _ORG), ("user_id", _USER)],
    "LiteLLM_ProjectTable": [("team_id", _TEAM)],
    "LiteLLM_SpendLogs": [("api_key", _KEY), ("team_id", _TEAM), ("user", _USER)],
    "LiteLLM_AuditLog": [("changed_by_api_key", _KEY)],
    "LiteLLM_DailyUserSpend": [("api_key", _KEY), ("user_id", _USER)],
    "LiteLLM_DailyTeamSpend": [("api_key", _KEY), ("team_id", _TEAM)],
    "LiteLLM_DailyOrganizationSpend": [("api_key", _KEY), ("organization_id", _ORG)],
    "LiteLLM_DailyEndUserSpend": [("api_key", _KEY)],
    "LiteLLM_DailyAgentSpend": [("api_key", _KEY)],
    "LiteLLM_DailyTagSpend": [("api_key", _KEY)],
    "LiteLLM_DailyRequestErrors": [("api_key", _KEY), ("team_id", _TEAM), ("user_id", _USER)],
    "LiteLLM_DailyGuardrailUsageUnits": [("api_key", _KEY), ("team_id", _TEAM)],
    "LiteLLM_ManagedObjectTable": [("api_key", _KEY), ("team_id", _TEAM)],
    "LiteLLM_ManagedFileTable": [("team_id", _TEAM)],
    "LiteLLM_ManagedVectorStoreTable": [("team_id", _TEAM)],
    "LiteLLM_ManagedVectorStoresTable": [("team_id", _TEAM), ("user_id", _USER)],
    "LiteLLM_MemoryTable": [("team_id", _TEAM), ("user_id", _USER)],
    "LiteLLM_ToolTable": [("key_hash", _KEY), ("team_id", _TEAM)],
    "LiteLLM_InvitationLink": [("user_id", _USER)],
    "LiteLLM_UserNotifications": [("user_id", _USER)],
    "LiteLLM_MCPUserCredentials": [("user_id", _USER)],
    "LiteLLM_UserProviderCredentials": [("user_id", _USER)],
    "LiteLLM_MCPUserEnvVars": [("user_id", _USER)],
    "LiteLLM_SSOIdentityAssertion": [("user_id", _USER)],
    "LiteLLM_VerifiedSubject": [("user_id", _USER)],
    "LiteLLM_AutoRouterSession": [("api_key", _KEY)],
    "LiteLLM_AutoRouterUserSession": [("api_key", _KEY), ("user_id", _USER)],
    "LiteLLM_AutoRouterDailySpend": [("api_key", _KEY), ("user_id", _USER)],
}

# Rows a table's trigger must leave alone. A request refused at authentication (401/403) was not
# made by the key's owner, so its failure log stays unattributed (super admin only).
STAMP_CONDITIONS: dict[str, str] = {
    "LiteLLM_SpendLogs": (
        "NEW.status IS DISTINCT FROM 'failure' "
        "OR coalesce(NEW.metadata -> 'error_information' ->> 'error_code', '') NOT IN ('401', '403')"
    ),
}

_FUNCTION = """
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
"""


def trigger_migration_sql() -> str:
    parts = [
        # The header names the module where it lived when the migration was first applied (now
        # tenancy/data/): an applied migration's bytes never change, its checksum is on record.
        "-- GENERATED from extensions/tenancy/stamping.py (trigger_migration_sql); idempotent.",
        _FUNCTION.strip(),
        "",
    ]
    for table, sources in STAMP_SOURCES.items():
        args = ", ".join(f"'{col}', '{parent}', '{key}'" for col, (parent, key) in sources)
        trigger = f"atrium_stamp_account_id_{table}"[:63]
        parts.append(f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}";')
        condition = f" WHEN ({STAMP_CONDITIONS[table]})" if table in STAMP_CONDITIONS else ""
        parts.append(
            f'CREATE TRIGGER "{trigger}" BEFORE INSERT ON "{table}" '
            f"FOR EACH ROW{condition} EXECUTE FUNCTION atrium_stamp_account_id({args});"
        )
    parts.append('DROP TRIGGER IF EXISTS "atrium_check_key_team_account" ON "LiteLLM_VerificationToken";')
    parts.append(
        'CREATE TRIGGER "atrium_check_key_team_account" BEFORE INSERT OR UPDATE OF team_id, account_id '
        'ON "LiteLLM_VerificationToken" FOR EACH ROW EXECUTE FUNCTION atrium_check_key_team_account();'
    )
    return "\n".join(parts) + "\n"
