"""Audit sinks through a real proxy (2 workers) with both sinks configured: entries reach an OTLP/HTTP
logs receiver and an OpenObserve-style JSON receiver with their fields; with both receivers down,
management requests still succeed, and once they are back every entry in PostgreSQL is delivered
(checked by (account_id, seq) and hash), each once."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tests_support_config import gateway_config

from extensions.audit.reader import public
from extensions.testing.audit_receivers import JsonBulkReceiver, OtlpLogsReceiver
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess

SUFFIX = uuid.uuid4().hex[:6]
O2_USER, O2_PASSWORD = "o2-writer", f"o2-secret-{SUFFIX}"
OTLP_TOKEN = f"otlp-token-{SUFFIX}"
FIELDS = ("id", "account_id", "seq", "time", "hash", "prev_hash", "request_id", "actor_kind", "action")
FIELDS += ("object_type", "object_ids", "outcome", "status_code", "method", "route")


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpLogsReceiver]:
    server = OtlpLogsReceiver({"Authorization": f"Bearer {OTLP_TOKEN}"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def o2() -> Iterator[JsonBulkReceiver]:
    server = JsonBulkReceiver(O2_USER, O2_PASSWORD)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sink_proxy(
    workdir: Path,
    database_url: str,
    redis_url: str,
    master_key: str,
    upstream: FakeUpstream,
    otlp: OtlpLogsReceiver,
    o2: JsonBulkReceiver,
) -> Iterator[ProxyProcess]:
    server = ProxyProcess(
        workdir,
        database_url=database_url,
        redis_url=redis_url,
        master_key=master_key,
        config=gateway_config(upstream),
        workers=2,
        extra_env={
            "ATRIUM_AUDIT_OTLP_ENDPOINT": otlp.url,
            "ATRIUM_AUDIT_OTLP_HEADERS": f"Authorization=Bearer%20{OTLP_TOKEN}",
            "ATRIUM_AUDIT_HTTP_URL": o2.url,
            "ATRIUM_AUDIT_HTTP_USER": O2_USER,
            "ATRIUM_AUDIT_HTTP_PASSWORD": O2_PASSWORD,
            "ATRIUM_AUDIT_SINK_BATCH": "50",
            "ATRIUM_AUDIT_SINK_INTERVAL_S": "0.2",
            "ATRIUM_AUDIT_SINK_RETRY_MAX_S": "0.5",
        },
    )
    server.start()
    yield server
    server.stop()
    assert O2_PASSWORD not in server.log_path.read_text(errors="replace")
    assert OTLP_TOKEN not in server.log_path.read_text(errors="replace")


def db_entries(dsn: str) -> dict[tuple[str, int], dict[str, Any]]:
    async def run() -> dict[tuple[str, int], dict[str, Any]]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch('SELECT * FROM "Atrium_AuditLog"')
        finally:
            await conn.close()
        return {(r["account_id"], int(r["seq"])): public(r) for r in rows}

    return asyncio.run(run())


def otlp_keys(receiver: OtlpLogsReceiver) -> list[tuple[str, int]]:
    return [(r["audit.account_id"], r["audit.seq"]) for r in receiver.snapshot()]


def o2_keys(receiver: JsonBulkReceiver) -> list[tuple[str, int]]:
    return [(r["account_id"], r["seq"]) for r in receiver.snapshot()]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def changes(proxy: ProxyProcess, master_key: str, count: int) -> list[str]:
    """``count`` management requests through the proxy, each answered 200; their request ids."""
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=60)
    slug = f"sink-{uuid.uuid4().hex[:8]}"
    request_ids = [f"sink-{uuid.uuid4().hex}" for _ in range(count)]
    account = root.post(
        "/account/new", json={"name": slug.title(), "slug": slug}, headers={"x-request-id": request_ids[0]}
    )
    assert account.status_code == 200, account.text
    acting = {"X-Atrium-Account": account.json()["account_id"]}
    for request_id in request_ids[1:]:
        team = root.post("/team/new", json={"team_alias": request_id}, headers={**acting, "x-request-id": request_id})
        assert team.status_code == 200, team.text
    return request_ids


def test_entries_reach_both_receivers_with_their_fields(
    sink_proxy: ProxyProcess, master_key: str, database_url: str, otlp: OtlpLogsReceiver, o2: JsonBulkReceiver
) -> None:
    request_ids = changes(sink_proxy, master_key, 3)
    stored = {e["request_id"]: e for e in db_entries(database_url).values() if e["request_id"] in request_ids}
    assert len(stored) == 3

    def delivered() -> bool:
        got_otlp = {r["audit.request_id"] for r in otlp.snapshot() if r.get("audit.request_id") in stored}
        got_o2 = {r["request_id"] for r in o2.snapshot() if r.get("request_id") in stored}
        return len(got_otlp) == len(got_o2) == 3

    wait_for(delivered, "both receivers to get the entries")
    for request_id, entry in stored.items():
        [record] = [r for r in otlp.snapshot() if r.get("audit.request_id") == request_id]
        assert record["scope"] == "atrium.audit" and record["resource"] == {"service.name": "atrium"}
        for name in FIELDS:
            assert record[f"audit.{name}"] == entry[name], name
        actor = {k: v for k, v in entry["actor"].items() if v is not None and k != "kind"}
        assert {k.removeprefix("audit.actor."): v for k, v in record.items() if k.startswith("audit.actor.")} == actor
        assert json.loads(record["body"]) == entry  # the whole entry as the API shows it
        assert record["timeUnixNano"] // 1_000_000 % 1000 == int(entry["time"][-4:-1])
        [document] = [r for r in o2.snapshot() if r.get("request_id") == request_id]
        assert {k: v for k, v in document.items() if not k.startswith(("_", "@"))} == entry
        assert document["@timestamp"] == entry["time"] and isinstance(document["_timestamp"], int)


def test_receivers_down_requests_succeed_and_everything_arrives_after(
    sink_proxy: ProxyProcess, master_key: str, database_url: str, otlp: OtlpLogsReceiver, o2: JsonBulkReceiver
) -> None:
    otlp.down("503")
    o2.down("refuse")
    try:
        refused_before = otlp.refused
        request_ids = changes(sink_proxy, master_key, 4)  # each asserted 200 while both sinks are down
        wait_for(lambda: otlp.refused > refused_before, "a forwarding attempt while the receiver is down")
        for request_id in request_ids:
            assert request_id not in {r.get("audit.request_id") for r in otlp.snapshot()}
    finally:
        otlp.up()
        o2.up()
    expected = db_entries(database_url)
    assert {e["request_id"] for e in expected.values()} >= set(request_ids)

    wait_for(lambda: set(expected) <= set(otlp_keys(otlp)), "every entry at the OTLP receiver")
    wait_for(lambda: set(expected) <= set(o2_keys(o2)), "every entry at the JSON receiver")
    hashes = {key: entry["hash"] for key, entry in expected.items()}
    for record in otlp.snapshot():
        key = (record["audit.account_id"], record["audit.seq"])
        assert hashes.get(key, record["audit.hash"]) == record["audit.hash"], key
    for document in o2.snapshot():
        assert hashes.get((document["account_id"], document["seq"]), document["hash"]) == document["hash"]
    # At least once, and here exactly once: duplicates come only from a batch whose answer was lost.
    for keys in (otlp_keys(otlp), o2_keys(o2)):
        assert len(keys) == len(set(keys)), "an entry was delivered twice"
