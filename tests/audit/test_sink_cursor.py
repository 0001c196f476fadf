"""The sink forwarder in-process on real PostgreSQL and loopback receivers: resumes from its cursor
after an outage and a restart, sends bounded batches, one worker per sink, the bulk format."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from extensions.audit.chain import append
from extensions.audit.entries import Actor, AuditEntry
from extensions.audit.sink_config import SinkSettings, SinkTarget
from extensions.audit.sinks import LOCK_CLASS, Forwarder, SinkRefused, forward_once, lock_key
from extensions.testing.audit_receivers import JsonBulkReceiver

USER, PASSWORD = "o2-user", f"o2-pass-{uuid.uuid4().hex[:6]}"


def entry(account: str, n: int) -> AuditEntry:
    return AuditEntry(
        account_id=account,
        actor=Actor("account_admin", user_id="u1"),
        method="POST",
        route="/team/new",
        action="team.new",
        object_type="team",
        object_ids=(f"team-{n}",),
        changes={},
        status_code=200,
        outcome="success",
        request_id=f"req-{n}",
    )


@pytest.fixture
def receiver() -> Iterator[JsonBulkReceiver]:
    server = JsonBulkReceiver(USER, PASSWORD).start()
    yield server
    server.stop()


def mine(receiver: JsonBulkReceiver, account: str) -> list[tuple[int, str]]:
    return [(r["seq"], r["hash"]) for r in receiver.snapshot() if r["account_id"] == account]


async def fresh_sink(pool: Any, url: str, encoding: str = "json", **extra: Any) -> SinkTarget:
    """A sink of its own, caught up with every chain already in the (shared) database: it forwards
    only what the test writes next."""
    target = SinkTarget(f"test-{uuid.uuid4().hex[:8]}", url, encoding, auth=(USER, PASSWORD), **extra)
    await pool.execute(
        """INSERT INTO "Atrium_AuditSinkCursor" (sink, account_id, seq, hash)
           SELECT $1, account_id, seq, hash FROM "Atrium_AuditHead" """,
        target.name,
    )
    return target


async def _drain(pool: Any, target: SinkTarget, batch: int) -> None:
    """Forward until nothing is pending (a fresh forwarder: a restarted worker)."""
    forwarder = Forwarder(pool, target, SinkSettings(targets=(target,), batch=batch))
    try:
        while (sent := await forward_once(pool, forwarder._client, target, batch)) != 0:
            assert sent is not None
    finally:
        await forwarder.close()


def test_an_outage_loses_nothing_and_the_cursor_survives_a_restart(
    database_url: str, receiver: JsonBulkReceiver
) -> None:
    account = f"sink-{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
        try:
            target = await fresh_sink(pool, receiver.url)
            async with pool.acquire() as conn:
                written = [await append(conn, entry(account, n)) for n in range(5)]
            receiver.down("refuse")
            async with httpx.AsyncClient(timeout=5) as client:
                with pytest.raises(SinkRefused):
                    await forward_once(pool, client, target, 100)
            assert mine(receiver, account) == []
            cursor = await pool.fetchval(
                'SELECT seq FROM "Atrium_AuditSinkCursor" WHERE sink = $1 AND account_id = $2', target.name, account
            )
            assert cursor is None  # nothing was taken, nothing moved

            receiver.up()
            await _drain(pool, target, batch=2)
            assert mine(receiver, account) == [(w["seq"], w["hash"]) for w in written]
            assert max(receiver.batches) <= 2  # the batch bounds each request (and what is held in memory)

            async with pool.acquire() as conn:
                later = [await append(conn, entry(account, n)) for n in range(5, 7)]
            await _drain(pool, target, batch=2)  # another "restart": starts from the stored cursor
            assert mine(receiver, account) == [(w["seq"], w["hash"]) for w in written + later]
        finally:
            await pool.close()

    asyncio.run(run())


def test_one_worker_forwards_a_sink_at_a_time(database_url: str, receiver: JsonBulkReceiver) -> None:
    account = f"sink-{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
        holder = await asyncpg.connect(database_url)
        try:
            target = await fresh_sink(pool, receiver.url)
            async with pool.acquire() as conn:
                await append(conn, entry(account, 0))
            await holder.execute("SELECT pg_advisory_lock($1, $2)", LOCK_CLASS, lock_key(target.name))
            async with httpx.AsyncClient(timeout=5) as client:
                assert await forward_once(pool, client, target, 100) is None
                assert mine(receiver, account) == []
                await holder.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, lock_key(target.name))
                assert await forward_once(pool, client, target, 100) == 1
            assert len(mine(receiver, account)) == 1
        finally:
            await holder.close()
            await pool.close()

    asyncio.run(run())


def test_bulk_format_carries_the_entry_id_as_document_id(database_url: str, receiver: JsonBulkReceiver) -> None:
    account = f"sink-{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=3)
        try:
            target = await fresh_sink(pool, receiver.bulk_url, "bulk", index="audit")
            async with pool.acquire() as conn:
                written = await append(conn, entry(account, 0))
            await _drain(pool, target, batch=500)
            [(action, document)] = [
                (a, d) for a, d in zip(receiver.actions, receiver.snapshot(), strict=True) if d["account_id"] == account
            ]
            assert action == {"index": {"_id": written["id"], "_index": "audit"}}
            assert (document["seq"], document["hash"], document["@timestamp"]) == (1, written["hash"], written["time"])
        finally:
            await pool.close()

    asyncio.run(run())


def test_settings_refuse_a_bad_value_without_echoing_secrets() -> None:
    settings = SinkSettings.from_env(
        {
            "ATRIUM_AUDIT_HTTP_URL": "http://o2.example/api/default/audit/_json",
            "ATRIUM_AUDIT_HTTP_USER": "u",
            "ATRIUM_AUDIT_HTTP_PASSWORD": "s3cret-pass",
            "ATRIUM_AUDIT_OTLP_ENDPOINT": "http://collector:4318/v1/logs",
            "ATRIUM_AUDIT_OTLP_HEADERS": "authorization=Bearer%20tok-s3cret",
        }
    )
    assert [(t.name, t.encoding) for t in settings.targets] == [("otlp", "otlp"), ("http", "json")]
    assert settings.targets[0].headers == {"authorization": "Bearer tok-s3cret"}
    assert "s3cret" not in repr(settings)
    with pytest.raises(Exception, match="ATRIUM_AUDIT_SINK_BATCH is out of range"):
        SinkSettings.from_env({"ATRIUM_AUDIT_SINK_BATCH": "0"})
    with pytest.raises(Exception) as refused:
        SinkSettings.from_env({"ATRIUM_AUDIT_HTTP_URL": "ftp://user:s3cret@host/x"})
    assert "s3cret" not in str(refused.value)
