"""The foundation end to end: `atrium serve` is LiteLLM plus Atrium, in every worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import openai
import pytest

from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess

MASTER_KEY = "sk-test-master-0123456789"  # the session proxy's master key (tests/conftest.py)


def worker_statuses(base_url: str, want: int, timeout: float = 60) -> dict[int, dict]:  # type: ignore[type-arg]
    """Status of each worker seen; the proxy is live once one worker answers, others may still boot."""
    seen: dict[int, dict] = {}  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while len(seen) < want and time.monotonic() < deadline:
            # A fresh connection each time, so the kernel spreads them over the workers.
            status = client.get("/atrium/status", headers={"Connection": "close"}).json()
            seen[status["worker_pid"]] = status
            time.sleep(0.05)
    return seen


@pytest.fixture(scope="module")
def embedded_proxy(workdir: Path) -> Iterator[ProxyProcess]:
    """`atrium serve` with no DATABASE_URL: embedded PostgreSQL, demo model, 2 workers."""
    server = ProxyProcess(workdir / "embedded", database_url=None, master_key=MASTER_KEY, workers=2)
    (workdir / "embedded").mkdir(exist_ok=True)
    server.start()
    yield server
    server.stop()


def test_embedded_serve_answers_chat_and_liveliness(embedded_proxy: ProxyProcess) -> None:
    assert httpx.get(f"{embedded_proxy.base_url}/health/liveliness").status_code == 200
    client = openai.OpenAI(api_key=MASTER_KEY, base_url=f"{embedded_proxy.base_url}/v1")
    reply = client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
    assert "Atrium's demo model" in (reply.choices[0].message.content or "")


def test_additions_are_live_in_both_workers(embedded_proxy: ProxyProcess) -> None:
    statuses = worker_statuses(embedded_proxy.base_url, want=2)
    assert len(statuses) == 2, f"only saw workers {list(statuses)}"
    for status in statuses.values():
        assert status["middleware"] is True
        assert status["started"] is True
        assert status["prisma_wrapped"] is True
        # The start-up heap is frozen once start-up is over (extensions/heap.py): LiteLLM alone is ~1.7M objects.
        assert status["gc_frozen_objects"] > 500_000


def test_request_id_is_echoed(embedded_proxy: ProxyProcess) -> None:
    response = httpx.get(f"{embedded_proxy.base_url}/health/liveliness", headers={"x-request-id": "req-123"})
    assert response.headers["x-request-id"] == "req-123"


async def _spend_rows(dsn: str, token_hash: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(
            await conn.fetch('SELECT request_id, spend, model FROM "LiteLLM_SpendLogs" WHERE api_key = $1', token_hash)
        )
    finally:
        await conn.close()


def wait_for_spend_rows(dsn: str, token_hash: str, count: int, timeout: float = 60) -> list[asyncpg.Record]:
    deadline = time.monotonic() + timeout
    rows: list[asyncpg.Record] = []
    while time.monotonic() < deadline:
        rows = asyncio.run(_spend_rows(dsn, token_hash))
        if len(rows) >= count:
            return rows
        time.sleep(0.5)
    return rows


def test_generated_key_chats_and_is_billed(proxy: ProxyProcess, upstream: FakeUpstream, database_url: str) -> None:
    admin = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=30)
    generated = admin.post("/key/generate", json={"models": ["gpt-fake", "embed-fake"]})
    assert generated.status_code == 200, generated.text
    key, token_hash = generated.json()["key"], generated.json()["token"]

    client = openai.OpenAI(api_key=key, base_url=f"{proxy.base_url}/v1")
    before = len(upstream.requests)
    reply = client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "plain"}])
    assert reply.choices[0].message.content == "[primary] plain"
    assert reply.model == "gpt-fake"

    stream = client.chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": "streamed reply"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "[primary] streamed reply"

    embedding = client.embeddings.create(model="embed-fake", input=["a", "bb"])
    assert len(embedding.data) == 2

    received = upstream.requests[before:]
    assert [r.path for r in received] == ["/v1/chat/completions", "/v1/chat/completions", "/v1/embeddings"]
    assert all(r.authorization == "Bearer sk-upstream-primary" for r in received)

    rows = wait_for_spend_rows(database_url, token_hash, count=3)
    assert len(rows) >= 3, f"spend rows for the key: {rows}"


def test_upstream_errors_and_slow_answers_pass_through(proxy: ProxyProcess, master_key: str) -> None:
    key = httpx.post(
        f"{proxy.base_url}/key/generate", headers={"Authorization": f"Bearer {master_key}"}, json={}, timeout=30
    ).json()["key"]
    client = openai.OpenAI(api_key=key, base_url=f"{proxy.base_url}/v1", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "ERROR 429"}])
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "ERROR 500"}])
    assert failed.value.status_code >= 500
    started = time.monotonic()
    slow = client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "SLOW 1"}])
    assert slow.choices[0].message.content == "[primary] SLOW 1"
    assert time.monotonic() - started >= 1.0  # the upstream really waited
