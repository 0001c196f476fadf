"""The raw SQL guard refuses what the Prisma wrapper cannot scope."""

from __future__ import annotations

import pytest

from extensions.tenancy.context import PrincipalKind, TenantContext, system_context, tenant_context
from extensions.tenancy.raw_sql import RawSqlRefused, guard_raw_sql, raw_sql_reviewed

KEY_AUTH = """
    SELECT
        v.*,
        t.spend AS team_spend, -- a comment
        t.max_budget AS team_max_budget
    FROM "LiteLLM_VerificationToken" AS v
    LEFT JOIN "LiteLLM_TeamTable" AS t ON v.team_id = t.team_id
    WHERE v.token = $1
"""
SPEND = 'SELECT * FROM "LiteLLM_SpendLogs" WHERE "startTime" > $1'
TENANT = TenantContext(PrincipalKind.ACCOUNT_ADMIN, "acct-a", token_hash="hash")


async def test_tenant_raw_sql_on_tenant_tables_is_refused() -> None:
    with tenant_context(TENANT), pytest.raises(RawSqlRefused) as info:
        await guard_raw_sql(SPEND, ["2026-01-01"])
    assert info.value.status == 403


async def test_reviewed_key_auth_statement_is_allowed() -> None:
    with tenant_context(TENANT):
        await guard_raw_sql(KEY_AUTH, ["hash"])


async def test_key_auth_for_someone_elses_token_is_refused() -> None:
    with tenant_context(TENANT), pytest.raises(RawSqlRefused):
        await guard_raw_sql(KEY_AUTH, ["another-hash"])


async def test_key_auth_shape_with_other_predicate_is_refused() -> None:
    with tenant_context(TENANT), pytest.raises(RawSqlRefused):
        await guard_raw_sql(KEY_AUTH.replace("WHERE v.token = $1", "WHERE v.token = $1 OR true"), ["hash"])


async def test_non_tenant_tables_are_not_checked() -> None:
    with tenant_context(TENANT):
        await guard_raw_sql('SELECT param_value FROM "LiteLLM_Config" WHERE param_name = $1', ["general_settings"])
        await guard_raw_sql("SELECT 1", [])


async def test_unrestricted_and_reviewed_routes_pass() -> None:
    with system_context():
        await guard_raw_sql(SPEND, [])
    token = raw_sql_reviewed.set(True)
    try:
        with tenant_context(TENANT):
            await guard_raw_sql(SPEND, [])
    finally:
        raw_sql_reviewed.reset(token)
