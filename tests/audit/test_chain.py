"""The chain on real PostgreSQL: appends serialize, verify names tampering, pruning keeps it verifiable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import pytest

from extensions.audit.chain import append, entry_hash, hashed_fields
from extensions.audit.entries import REDACTED, Actor, AuditEntry, diff, redact
from extensions.audit.retention import prune
from extensions.audit.verify import verify_account
from extensions.cli import main

T = TypeVar("T")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


def entry(account: str, n: int) -> AuditEntry:
    return AuditEntry(
        account_id=account,
        actor=Actor("account_admin", user_id="u1", key_hash_prefix="abcdef12"),
        method="POST",
        route="/team/update",
        action="team.update",
        object_type="team",
        object_ids=(f"team-{n}",),
        changes={"team_alias": [f"a{n}", f"b{n}"]},
        status_code=200,
        outcome="success",
        request_id=f"req-{n}",
    )


async def _fill(dsn: str, account: str, count: int) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [await append(conn, entry(account, n)) for n in range(count)]
    finally:
        await conn.close()


async def _problem(dsn: str, account: str) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await verify_account(conn, account)
    finally:
        await conn.close()


async def _execute(dsn: str, sql: str, *args: Any) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
def account() -> str:
    return f"chain-{uuid.uuid4().hex[:8]}"


def test_a_clean_chain_verifies_and_the_cli_says_so(database_url: str, account: str) -> None:
    rows = run(lambda: _fill(database_url, account, 4))
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert run(lambda: _problem(database_url, account)) is None
    assert main(["audit", "verify", "--account", account, "--database-url", database_url]) == 0


def test_an_update_in_postgresql_is_named(database_url: str, account: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = run(lambda: _fill(database_url, account, 5))
    sql = "UPDATE \"Atrium_AuditLog\" SET outcome = 'refused' WHERE id = $1"
    run(lambda: _execute(database_url, sql, rows[2]["id"]))
    problem = run(lambda: _problem(database_url, account))
    assert (problem.kind, problem.entry_id, problem.seq) == ("altered", rows[2]["id"], 3)
    assert main(["audit", "verify", "--account", account, "--database-url", database_url]) == 1
    assert rows[2]["id"] in capsys.readouterr().err


def test_a_delete_in_postgresql_is_named(database_url: str, account: str) -> None:
    rows = run(lambda: _fill(database_url, account, 5))
    run(lambda: _execute(database_url, 'DELETE FROM "Atrium_AuditLog" WHERE id = $1', rows[1]["id"]))
    problem = run(lambda: _problem(database_url, account))
    assert (problem.kind, problem.seq) == ("deleted", 2)
    # Deleting the newest entry is seen too: the head names it.
    other = f"{account}-tail"
    tail = run(lambda: _fill(database_url, other, 3))
    run(lambda: _execute(database_url, 'DELETE FROM "Atrium_AuditLog" WHERE id = $1', tail[2]["id"]))
    assert run(lambda: _problem(database_url, other)).kind == "deleted"


def test_an_insert_in_the_middle_is_named(database_url: str, account: str) -> None:
    rows = run(lambda: _fill(database_url, account, 5))
    # A forger who knows the algorithm: a well-formed entry at seq 3 that commits to entry 2.
    forged = {**rows[2], "id": uuid.uuid4().hex, "action": "team.delete", "request_id": "forged"}
    forged["hash"] = entry_hash(rows[1]["hash"], hashed_fields(forged))
    columns = list(forged)
    values = [datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ") if c == "time" else v for c, v in forged.items()]
    placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
    sql = f'INSERT INTO "Atrium_AuditLog" ({", ".join(columns)}) VALUES ({placeholders})'
    run(lambda: _execute(database_url, sql, *values))
    problem = run(lambda: _problem(database_url, account))
    assert (problem.kind, problem.entry_id) == ("inserted", forged["id"])


async def _concurrent(dsn: str, account: str, lock: bool, count: int) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=8, max_size=8)
    try:

        async def one(n: int) -> None:
            async with pool.acquire() as conn:
                await append(conn, entry(account, n), lock=lock)

        await asyncio.gather(*(one(n) for n in range(count)))
    finally:
        await pool.close()


def test_concurrent_appends_never_fork_the_chain(database_url: str, account: str) -> None:
    run(lambda: _concurrent(database_url, account, True, 40))
    assert run(lambda: _problem(database_url, account)) is None


def test_without_the_head_lock_the_chain_forks(database_url: str, account: str) -> None:
    """The defence broken once: without FOR UPDATE on the head, concurrent appends reuse a seq."""
    run(lambda: _concurrent(database_url, account, False, 40))
    assert run(lambda: _problem(database_url, account)) is not None


def test_pruning_keeps_the_chain_verifiable(database_url: str, account: str) -> None:
    run(lambda: _fill(database_url, account, 3))

    async def prune_later() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return await prune(conn, datetime.now(UTC) + timedelta(days=400))
        finally:
            await conn.close()

    assert run(prune_later) >= 3
    assert run(lambda: _problem(database_url, account)) is None
    later = run(lambda: _fill(database_url, account, 2))
    assert later[0]["seq"] == 4
    assert run(lambda: _problem(database_url, account)) is None


def test_redaction() -> None:
    body = {
        "key_alias": "ci",
        "key": "sk-live-123",
        "metadata": {"note": "sk-in-a-note", "nested": [{"client_secret": "s3cret"}, "Bearer abc"]},
        "litellm_params": {"api_key": "prov", "model": "openai/x", "api_base": "https://u:p@host/v1"},
        "credential_values": {"api_key": "x"},
        "password": "pw",
        "link": "https://x/accept?token=abc",
    }
    out = redact(body)
    assert out["key_alias"] == "ci" and out["litellm_params"]["model"] == "openai/x"
    for value in ("sk-live-123", "sk-in-a-note", "s3cret", "Bearer abc", "prov", "pw", "token=abc", "u:p@"):
        assert value not in str(out)
    assert out["credential_values"] == REDACTED
    assert diff({"password": "old"}, {"password": "new"}) == {"password": [REDACTED, REDACTED]}


def test_retention_is_per_account_and_one_pruner_runs_at_a_time(database_url: str, account: str) -> None:
    short, default = f"{account}-short", f"{account}-default"
    insert = """INSERT INTO "Atrium_Account" (account_id, name, slug, settings)
                VALUES ($1, $1, $1, '{"audit_retention_days": 30}'::jsonb)"""
    run(lambda: _execute(database_url, insert, short))
    run(lambda: _fill(database_url, short, 2))
    run(lambda: _fill(database_url, default, 2))

    async def prune_at(days: int, *, held: bool = False) -> int:
        conn = await asyncpg.connect(database_url)
        other = await asyncpg.connect(database_url)
        try:
            if held:  # another replica is pruning
                await other.execute("SELECT pg_advisory_lock($1)", 0x61756469)
            return await prune(conn, datetime.now(UTC) + timedelta(days=days))
        finally:
            await other.close()
            await conn.close()

    assert run(lambda: prune_at(31, held=True)) == 0
    run(lambda: prune_at(31))
    remaining = run(lambda: _count(database_url, [short, default]))
    assert remaining == {default: 2}
    for chain in (short, default):
        assert asyncio.run(_problem(database_url, chain)) is None


async def _count(dsn: str, accounts: list[str]) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetch(
            'SELECT account_id, count(*) AS n FROM "Atrium_AuditLog" WHERE account_id = ANY($1) GROUP BY 1', accounts
        )
        return {r["account_id"]: r["n"] for r in found}
    finally:
        await conn.close()
