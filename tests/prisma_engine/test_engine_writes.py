"""The engine loses no writes: create_many at LiteLLM's batch sizes, and concurrently.

LiteLLM writes spend logs with ``create_many(data=rows, skip_duplicates=True)`` in
statements of at most SPEND_LOG_WRITE_BATCH_MAX_ROWS (100) rows, flushing up to 1000 per
batch (proxy/utils.py: ProxyUpdateSpend.update_spend_logs). ``skip_duplicates`` is
``INSERT ... ON CONFLICT DO NOTHING``: rows whose ``request_id`` (the provider's response
id) repeats are dropped by design, and create_many reports only the rows inserted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from prisma import Json

START = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def spend_log(request_id: str, api_key: str, i: int) -> dict[str, Any]:
    """A row shaped like LiteLLM's SpendLogsPayload after jsonify_object."""
    return {
        "request_id": request_id,
        "call_type": "acompletion",
        "api_key": api_key,
        "spend": 0.001 * i,
        "total_tokens": 30,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "startTime": START + dt.timedelta(milliseconds=i),
        "endTime": START + dt.timedelta(milliseconds=i + 250),
        "completionStartTime": START + dt.timedelta(milliseconds=i + 100),
        "request_duration_ms": 250,
        "model": "gpt-fake",
        "model_id": "model-1",
        "model_group": "gpt-fake",
        "custom_llm_provider": "openai",
        "api_base": "http://127.0.0.1:1/v1",
        "user": "user-1",
        "metadata": Json({"user_api_key_alias": None, "additional_usage_values": {}, "status": "success"}),
        "cache_hit": "False",
        "cache_key": "Cache OFF",
        "request_tags": Json(["a"]),
        "team_id": "team-1",
        "end_user": "",
        "requester_ip_address": "127.0.0.1",
        "messages": Json({}),
        "response": Json({}),
        "session_id": f"session-{i % 7}",
        "status": "success",
        "proxy_server_request": Json({}),
        "litellm_call_id": f"call-{request_id}",
    }


async def _count(db: Any, api_key: str) -> int:
    return int(await db.litellm_spendlogs.count(where={"api_key": api_key}))


async def test_create_many_100_and_1000_rows(db: Any, uid: str) -> None:
    rows = [spend_log(f"{uid}-{i}", uid, i) for i in range(100)]
    assert await db.litellm_spendlogs.create_many(data=rows, skip_duplicates=True) == 100
    assert await _count(db, uid) == 100
    # 1000 rows x 31 columns exceeds PostgreSQL's 32767 bind parameters: the engine must split.
    big = [spend_log(f"{uid}-big-{i}", f"{uid}-big", i) for i in range(1000)]
    assert await db.litellm_spendlogs.create_many(data=big) == 1000
    assert await _count(db, f"{uid}-big") == 1000
    total = await db.query_first(
        'SELECT COUNT(*) AS n, SUM(spend)::float AS s FROM "LiteLLM_SpendLogs" WHERE api_key = $1',
        f"{uid}-big",
    )
    assert total["n"] == 1000 and abs(total["s"] - sum(0.001 * i for i in range(1000))) < 1e-6


async def test_concurrent_create_many_batches(db: Any, uid: str) -> None:
    async def flush(batch: int) -> int:
        rows = [spend_log(f"{uid}-{batch}-{i}", uid, i) for i in range(100)]
        return int(await db.litellm_spendlogs.create_many(data=rows, skip_duplicates=True))

    counts = await asyncio.gather(*(flush(b) for b in range(20)))
    assert counts == [100] * 20
    assert await _count(db, uid) == 2000


async def test_concurrent_batches_and_single_creates(db: Any, uid: str) -> None:
    async def batch(n: int) -> None:
        async with db.batch_() as batcher:
            for i in range(10):
                batcher.litellm_spendlogs.create(data=spend_log(f"{uid}-b{n}-{i}", uid, i))

    async def single(n: int) -> None:
        await db.litellm_spendlogs.create(data=spend_log(f"{uid}-s{n}", uid, n))

    await asyncio.gather(*(batch(n) for n in range(10)), *(single(n) for n in range(50)))
    assert await _count(db, uid) == 150


async def test_skip_duplicates_drops_repeated_request_ids(db: Any, uid: str) -> None:
    # A provider (or a fake upstream) that answers every call with the same response id gives
    # every spend log the same request_id: only the first row of that id is ever stored.
    rows = [spend_log(f"{uid}-same", uid, i) for i in range(50)]
    assert await db.litellm_spendlogs.create_many(data=rows[:1], skip_duplicates=True) == 1
    assert await db.litellm_spendlogs.create_many(data=rows[1:], skip_duplicates=True) == 0
    assert await _count(db, uid) == 1
