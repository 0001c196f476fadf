"""The raw SQL guard refuses what the Prisma wrapper cannot scope.

Every statement here is read out of the installed LiteLLM (``extensions.litellm.issued_sql``),
not copied by hand, so the guard is tested on exactly what LiteLLM sends. The argument checks
run against the session's real, migrated database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from extensions import litellm
from extensions.runtime import runtime
from extensions.tenancy.data.raw_sql import RawSqlRefused, forget_prefetch_decisions, guard_raw_sql, raw_sql_reviewed
from extensions.tenancy.request.context import (
    Principal,
    PrincipalKind,
    TenantContext,
    system_context,
    tenant_context,
)

# Rows LiteLLM itself could read back: its list columns are NOT NULL in its models, not in the schema
# (a NULL one would fail LiteLLM's admin views of the session database for every later test).
INSERT_TEAM = (
    "INSERT INTO \"LiteLLM_TeamTable\" (team_id, account_id, admins, members, models) VALUES ($1, $2, '{}', '{}', '{}')"
)
INSERT_USER = "INSERT INTO \"LiteLLM_UserTable\" (user_id, account_id, teams, models) VALUES ($1, $2, '{}', '{}')"


def _installed(name: str) -> str:
    """The statement's text as the installed LiteLLM issues it (its first reviewed call site)."""
    (text, *_rest) = litellm.issued_sql(litellm.reviewed_statement(name).sites[0])
    return text


KEY_AUTH = _installed("key_auth_combined_view")
USER_LOCK = _installed("user_rows_lock")
DETACH = _installed("detach_team_from_users")
STRIP = _installed("strip_deleted_teams_from_users")
# Built with interpolations: the text LiteLLM sends is the module constant as rendered on import.
PREFETCH = litellm.rendered_sql(litellm.reviewed_statement("auth_object_prefetch").sites[0])
# An unreviewed statement of the installed LiteLLM: every user of every account, by spend.
(ALL_USERS,) = [
    text
    for text in litellm.issued_sql(
        litellm.SqlSite("litellm.proxy.utils", "PrismaClient.get_data", "query_raw", "sql_query")
    )
    if "json_agg(v.key_alias)" in text
]
SPEND = 'SELECT * FROM "LiteLLM_SpendLogs" WHERE "startTime" > $1'


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The guard's own pool (``runtime.pool``) on the session database, as in a worker."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    previous, runtime.pool = runtime.pool, pool
    try:
        yield pool
    finally:
        runtime.pool = previous
        await pool.close()


async def _account_with(pool: asyncpg.Pool) -> tuple[str, str, str]:
    """A new account with one team and one user: ``(account_id, team_id, user_id)``."""
    account, suffix = str(uuid.uuid4()), uuid.uuid4().hex[:8]
    await pool.execute('INSERT INTO "Atrium_Account" (account_id, name, slug) VALUES ($1, $1, $1)', account)
    await pool.execute(
        INSERT_TEAM,
        f"t-{suffix}",
        account,
    )
    await pool.execute(
        INSERT_USER,
        f"u-{suffix}",
        account,
    )
    return account, f"t-{suffix}", f"u-{suffix}"


def _tenant(account: str, token_hash: str = "hash") -> TenantContext:
    return TenantContext(PrincipalKind.ACCOUNT_ADMIN, account, token_hash=token_hash)


def test_statements_come_from_the_installed_source() -> None:
    assert '"LiteLLM_VerificationToken" AS v' in KEY_AUTH and "WHERE v.token = $1" in KEY_AUTH
    assert "LiteLLM_UserTable" in USER_LOCK and "FOR UPDATE" in USER_LOCK
    assert "array_remove(teams, $1)" in DETACH and "kept.team_id" in STRIP
    assert not any(s.pattern.match(litellm.normalise_sql(ALL_USERS)) for s in litellm.REVIEWED_STATEMENTS)


async def test_tenant_raw_sql_on_tenant_tables_is_refused() -> None:
    for sql in (ALL_USERS, SPEND):
        with tenant_context(_tenant("acct-a")), pytest.raises(RawSqlRefused) as info:
            await guard_raw_sql(sql, [100, 0])
        assert info.value.status == 403


async def test_key_auth_is_allowed_for_the_callers_own_key_only() -> None:
    with tenant_context(_tenant("acct-a", token_hash="own-hash")):
        await guard_raw_sql(KEY_AUTH, ["own-hash"])
    with tenant_context(_tenant("acct-a", token_hash="own-hash")), pytest.raises(RawSqlRefused):
        await guard_raw_sql(KEY_AUTH, ["another-hash"])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("WHERE v.token = $1", "WHERE v.token = $1 OR true"),
        ("WHERE v.token = $1", "WHERE true OR v.token = $1"),
        (
            "WHERE v.token = $1",
            'WHERE v.token = $1 UNION SELECT v.* FROM "LiteLLM_VerificationToken" AS v WHERE v.token = $1',
        ),
        ('FROM "LiteLLM_VerificationToken" AS v', 'FROM (SELECT * FROM "LiteLLM_VerificationToken") AS v'),
    ],
    ids=["or-after", "or-before", "union", "subquery"],
)
async def test_key_auth_shape_widened_is_refused(old: str, new: str) -> None:
    assert old in KEY_AUTH
    with tenant_context(_tenant("acct-a", token_hash="own-hash")), pytest.raises(RawSqlRefused):
        await guard_raw_sql(KEY_AUTH.replace(old, new), ["own-hash"])


async def test_user_lock_needs_the_accounts_own_users(db: asyncpg.Pool) -> None:
    account, _team, user = await _account_with(db)
    _other, _other_team, foreign_user = await _account_with(db)
    with tenant_context(_tenant(account)):
        await guard_raw_sql(USER_LOCK, [[user]])
        with pytest.raises(RawSqlRefused):
            await guard_raw_sql(USER_LOCK, [[user, foreign_user]])


async def test_detach_and_strip_need_the_accounts_own_team_and_users(db: asyncpg.Pool) -> None:
    account, team, user = await _account_with(db)
    _other, foreign_team, foreign_user = await _account_with(db)
    with tenant_context(_tenant(account)):
        await guard_raw_sql(DETACH, [team, [user]])
        await guard_raw_sql(STRIP, [[team]])
        for args in ([foreign_team, [user]], [team, [foreign_user]]):
            with pytest.raises(RawSqlRefused):
                await guard_raw_sql(DETACH, args)
        with pytest.raises(RawSqlRefused):
            await guard_raw_sql(STRIP, [[team, foreign_team]])


async def test_the_admitted_key_lookup_returns_only_the_named_row(db: asyncpg.Pool) -> None:
    """The reviewed text is real SQL over this schema, and it names one key."""
    account, team, user = await _account_with(db)
    own, other = uuid.uuid4().hex, uuid.uuid4().hex
    for token in (own, other):
        await db.execute(
            'INSERT INTO "LiteLLM_VerificationToken" (token, team_id, user_id) VALUES ($1, $2, $3)', token, team, user
        )
    with tenant_context(_tenant(account, token_hash=own)):
        await guard_raw_sql(KEY_AUTH, [own])
    rows = await db.fetch(KEY_AUTH, own)
    assert [r["token"] for r in rows] == [own]


async def test_non_tenant_tables_are_not_checked() -> None:
    with tenant_context(_tenant("acct-a")):
        await guard_raw_sql('SELECT param_value FROM "LiteLLM_Config" WHERE param_name = $1', ["general_settings"])
        await guard_raw_sql("SELECT 1", [])


async def test_unrestricted_and_reviewed_routes_pass() -> None:
    with system_context():
        await guard_raw_sql(ALL_USERS, [100, 0])
    token = raw_sql_reviewed.set(True)
    try:
        with tenant_context(_tenant("acct-a")):
            await guard_raw_sql(ALL_USERS, [100, 0])
    finally:
        raw_sql_reviewed.reset(token)


# -- the auth prefetch: the caller's own key's objects, decided once, skipped (never refused) --------


async def _key(pool: asyncpg.Pool, team: str | None, user: str | None) -> str:
    token = uuid.uuid4().hex + uuid.uuid4().hex
    await pool.execute(
        'INSERT INTO "LiteLLM_VerificationToken" (token, team_id, user_id) VALUES ($1, $2, $3)', token, team, user
    )
    return token


async def test_prefetch_of_the_callers_own_key_objects_runs(db: asyncpg.Pool) -> None:
    forget_prefetch_decisions()
    account, team, user = await _account_with(db)
    token = await _key(db, team, user)
    with tenant_context(Principal(PrincipalKind.API_KEY, account, user, token_hash=token)):
        assert await guard_raw_sql(PREFETCH, [user, team, user, None, None]) is True
        assert await guard_raw_sql(PREFETCH, [None, team, None, None, None]) is True
    row = await db.fetchrow(PREFETCH, user, team, user, None, None)
    assert row is not None
    assert json.loads(row["user_row"])["user_id"] == user and json.loads(row["team_row"])["team_id"] == team


async def test_prefetch_naming_anything_else_is_skipped_without_an_exception(db: asyncpg.Pool) -> None:
    forget_prefetch_decisions()
    account, team, user = await _account_with(db)
    _other, foreign_team, foreign_user = await _account_with(db)
    token = await _key(db, team, user)
    with tenant_context(Principal(PrincipalKind.API_KEY, account, user, token_hash=token)):
        for args in (
            [foreign_user, team, None, None, None],
            [user, foreign_team, user, None, None],
            [user, team, foreign_user, None, None],
            [user, team, user, "some-org", None],
            [user, team, user, None, "some-project"],
        ):
            assert await guard_raw_sql(PREFETCH, args) is False, args
    # A key whose own user sits in another account (a broken row) warms nothing either.
    crossed = await _key(db, team, foreign_user)
    with tenant_context(Principal(PrincipalKind.API_KEY, account, foreign_user, token_hash=crossed)):
        assert await guard_raw_sql(PREFETCH, [foreign_user, team, foreign_user, None, None]) is False


async def test_prefetch_for_a_global_key_reads_global_rows_only(db: asyncpg.Pool) -> None:
    forget_prefetch_decisions()
    suffix = uuid.uuid4().hex[:8]
    await db.execute(
        'INSERT INTO "LiteLLM_UserTable" (user_id, teams, models) VALUES ($1, ARRAY[]::text[], ARRAY[]::text[])',
        f"g-{suffix}",
    )
    token = await _key(db, None, f"g-{suffix}")
    _account, tenant_team, _user = await _account_with(db)
    with tenant_context(Principal(PrincipalKind.API_KEY, None, f"g-{suffix}", token_hash=token)):
        assert await guard_raw_sql(PREFETCH, [f"g-{suffix}", None, None, None, None]) is True
        assert await guard_raw_sql(PREFETCH, [f"g-{suffix}", tenant_team, None, None, None]) is False


async def test_prefetch_decision_is_taken_once_per_key(db: asyncpg.Pool) -> None:
    """The hot path asks the database once; the cached answer holds (the key's rows never change account)."""
    forget_prefetch_decisions()
    account, team, user = await _account_with(db)
    token = await _key(db, team, user)
    principal = Principal(PrincipalKind.API_KEY, account, user, token_hash=token)
    with tenant_context(principal):
        assert await guard_raw_sql(PREFETCH, [user, team, user, None, None]) is True
    await db.execute('DELETE FROM "LiteLLM_VerificationToken" WHERE token = $1', token)
    with tenant_context(principal):
        assert await guard_raw_sql(PREFETCH, [user, team, user, None, None]) is True
    forget_prefetch_decisions()
    with tenant_context(principal):
        assert await guard_raw_sql(PREFETCH, [user, team, user, None, None]) is False


async def test_prefetch_text_changed_is_refused(db: asyncpg.Pool) -> None:
    """The digest pins the whole rendered text: a widened copy is just unreviewed raw SQL."""
    account, team, user = await _account_with(db)
    token = await _key(db, team, user)
    widened = PREFETCH.replace("WHERE u.user_id = $1", "WHERE u.user_id = $1 OR true")
    assert widened != PREFETCH
    with (
        tenant_context(Principal(PrincipalKind.API_KEY, account, user, token_hash=token)),
        pytest.raises(RawSqlRefused),
    ):
        await guard_raw_sql(widened, [user, team, user, None, None])


async def test_an_unknown_key_may_look_itself_up_and_nothing_else() -> None:
    """Anonymous carries the hash of the key it presented: LiteLLM's lookup finds no row (its own 401)."""
    presented = litellm.hash_token("sk-" + uuid.uuid4().hex)
    with tenant_context(Principal(PrincipalKind.ANONYMOUS, token_hash=presented)):
        assert await guard_raw_sql(KEY_AUTH, [presented]) is True
        with pytest.raises(RawSqlRefused):
            await guard_raw_sql(KEY_AUTH, [litellm.hash_token("sk-someone-else")])
    with tenant_context(Principal(PrincipalKind.ANONYMOUS)), pytest.raises(RawSqlRefused):
        await guard_raw_sql(KEY_AUTH, [presented])
