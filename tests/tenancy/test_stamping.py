"""Rows written outside a tenant context still carry the right account_id (database triggers)."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from extensions.tenancy.data.stamping import STAMP_SOURCES, trigger_migration_sql
from extensions.tenancy.data.tables import TABLES, TableClass

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = ROOT / "prisma" / "migrations" / "20261124000100_atrium_account_stamping" / "migration.sql"

# Rows LiteLLM itself could read back: its list columns are NOT NULL in its models, not in the schema
# (a NULL one would fail LiteLLM's admin views of the session database for every later test).
INSERT_TEAM = (
    "INSERT INTO \"LiteLLM_TeamTable\" (team_id, account_id, admins, members, models) VALUES ($1, $2, '{}', '{}', '{}')"
)
INSERT_USER = "INSERT INTO \"LiteLLM_UserTable\" (user_id, account_id, teams, models) VALUES ($1, $2, '{}', '{}')"


def test_trigger_migration_is_current() -> None:
    assert MIGRATION.read_text() == trigger_migration_sql(), "regenerate it from extensions/tenancy/data/stamping.py"


def test_stamped_tables_are_tenant_tables() -> None:
    for table in STAMP_SOURCES:
        assert TABLES[table][0] is TableClass.TENANT


@pytest.fixture
async def conn(database_url: str):  # type: ignore[no-untyped-def]
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


async def _account(conn: asyncpg.Connection) -> str:
    account_id = str(uuid.uuid4())
    await conn.execute('INSERT INTO "Atrium_Account" (account_id, name, slug) VALUES ($1, $1, $1)', account_id)
    return account_id


async def test_key_inherits_its_teams_account(conn: asyncpg.Connection) -> None:
    account = await _account(conn)
    team = f"team-{uuid.uuid4().hex[:8]}"
    await conn.execute(
        INSERT_TEAM,
        team,
        account,
    )
    token = uuid.uuid4().hex
    await conn.execute('INSERT INTO "LiteLLM_VerificationToken" (token, team_id) VALUES ($1, $2)', token, team)
    stamped = await conn.fetchval('SELECT account_id FROM "LiteLLM_VerificationToken" WHERE token = $1', token)
    assert stamped == account


async def test_spend_and_daily_rows_inherit_the_keys_account(conn: asyncpg.Connection) -> None:
    account = await _account(conn)
    token = uuid.uuid4().hex
    await conn.execute('INSERT INTO "LiteLLM_VerificationToken" (token, account_id) VALUES ($1, $2)', token, account)
    request_id = uuid.uuid4().hex
    await conn.execute(
        'INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, "startTime", "endTime") '
        "VALUES ($1, 'completion', $2, now(), now())",
        request_id,
        token,
    )
    assert (
        await conn.fetchval('SELECT account_id FROM "LiteLLM_SpendLogs" WHERE request_id = $1', request_id) == account
    )
    # LiteLLM's daily writer uses INSERT ... ON CONFLICT via raw SQL.
    await conn.execute(
        'INSERT INTO "LiteLLM_DailyUserSpend" (id, user_id, date, api_key, model, custom_llm_provider, spend, '
        "updated_at) VALUES ($1, 'u', '2026-11-24', $2, 'm', 'openai', 1.0, now()) "
        "ON CONFLICT DO NOTHING",
        uuid.uuid4().hex,
        token,
    )
    assert await conn.fetchval('SELECT account_id FROM "LiteLLM_DailyUserSpend" WHERE api_key = $1', token) == account


async def test_explicit_account_is_kept(conn: asyncpg.Connection) -> None:
    account, other = await _account(conn), await _account(conn)
    user = f"user-{uuid.uuid4().hex[:8]}"
    await conn.execute(
        INSERT_USER,
        user,
        other,
    )
    token = uuid.uuid4().hex
    await conn.execute(
        'INSERT INTO "LiteLLM_VerificationToken" (token, user_id, account_id) VALUES ($1, $2, $3)',
        token,
        user,
        account,
    )
    assert await conn.fetchval('SELECT account_id FROM "LiteLLM_VerificationToken" WHERE token = $1', token) == account


async def test_key_cannot_point_at_another_accounts_team(conn: asyncpg.Connection) -> None:
    account, other = await _account(conn), await _account(conn)
    team = f"team-{uuid.uuid4().hex[:8]}"
    await conn.execute(
        INSERT_TEAM,
        team,
        other,
    )
    token = uuid.uuid4().hex
    await conn.execute('INSERT INTO "LiteLLM_VerificationToken" (token, account_id) VALUES ($1, $2)', token, account)
    with pytest.raises(asyncpg.CheckViolationError, match="belongs to another account"):
        await conn.execute('UPDATE "LiteLLM_VerificationToken" SET team_id = $2 WHERE token = $1', token, team)


async def test_unauthenticated_failure_logs_are_not_attributed(conn: asyncpg.Connection) -> None:
    account = await _account(conn)
    token = uuid.uuid4().hex
    await conn.execute('INSERT INTO "LiteLLM_VerificationToken" (token, account_id) VALUES ($1, $2)', token, account)
    request_id = uuid.uuid4().hex
    await conn.execute(
        'INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, "startTime", "endTime", status, metadata) '
        "VALUES ($1, 'acompletion', $2, now(), now(), 'failure', "
        """'{"error_information": {"error_code": "401"}}'::jsonb)""",
        request_id,
        token,
    )
    assert await conn.fetchval('SELECT account_id FROM "LiteLLM_SpendLogs" WHERE request_id = $1', request_id) is None
