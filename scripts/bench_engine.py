"""Benchmark prisma-client-py through the wasm engine against the same queries in asyncpg.

    DATABASE_URL=postgresql://... .venv/bin/python scripts/bench_engine.py [--iterations 2000]

The database must carry LiteLLM's schema (``atrium migrate``). The generated client is
used as it is; the engine is forced to prisma/engine's wasm launcher. Rows written are
tagged with a run id and deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
SPEND_COLUMNS = (
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "model",
    "model_group",
    "custom_llm_provider",
    "user",
    "metadata",
    "request_tags",
    "team_id",
    "status",
    "session_id",
)
JSON_COLUMNS = {"metadata", "request_tags"}


def spend_row(run: str, n: int) -> dict[str, Any]:
    start = dt.datetime(2024, 6, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=n)
    return {
        "request_id": f"{run}-{n}",
        "call_type": "acompletion",
        "api_key": run,
        "spend": 0.0001 * n,
        "total_tokens": 30,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "startTime": start,
        "endTime": start + dt.timedelta(milliseconds=250),
        "model": "gpt-fake",
        "model_group": "gpt-fake",
        "custom_llm_provider": "openai",
        "user": "user-1",
        "metadata": {"user_api_key_team_id": "team-1", "additional_usage_values": {}},
        "request_tags": ["bench"],
        "team_id": "team-1",
        "status": "success",
        "session_id": f"s-{n % 11}",
    }


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


async def measure(fn: Callable[[], Awaitable[object]], iterations: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    remaining = iterations

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            await fn()
            latencies.append((time.perf_counter() - t0) * 1000)

    for _ in range(max(1, iterations // 20)):  # warm-up
        await fn()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "ops": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


Ops = dict[str, Callable[[], Awaitable[object]]]


async def prisma_side(dsn: str, run: str, token: str) -> tuple[Any, Ops]:
    from prisma import Json, Prisma

    db = Prisma(datasource={"url": dsn})
    await db.connect()
    await db.litellm_verificationtoken.create(data={"token": token, "models": ["gpt"], "metadata": Json({"k": 1})})
    counter = Counter()

    def prisma_row(n: int) -> dict[str, Any]:
        row = spend_row(run + "-p", n)
        return {k: Json(v) if k in JSON_COLUMNS else v for k, v in row.items()}

    async def find_unique() -> object:
        return await db.litellm_verificationtoken.find_unique(where={"token": token})

    async def create() -> object:
        return await db.litellm_spendlogs.create(data=prisma_row(counter.next()))  # type: ignore[arg-type]

    async def create_many() -> object:
        rows = [prisma_row(counter.next()) for _ in range(100)]
        return await db.litellm_spendlogs.create_many(data=rows, skip_duplicates=True)  # type: ignore[arg-type]

    ops: Ops = {
        "find_unique by PK": find_unique,
        "create (1 spend log)": create,
        "create_many (100 spend logs)": create_many,
    }
    return db, ops


async def asyncpg_side(pool: asyncpg.Pool, run: str, token: str) -> Ops:
    counter = Counter()
    cols = ", ".join(f'"{c}"' for c in SPEND_COLUMNS)
    width = len(SPEND_COLUMNS)

    def values(n_rows: int) -> str:
        return ", ".join("(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(n_rows))

    def params(n: int) -> list[Any]:
        row = spend_row(run + "-a", n)
        return [
            json.dumps(row[c]) if c in JSON_COLUMNS else row[c].replace(tzinfo=None) if c.endswith("Time") else row[c]
            for c in SPEND_COLUMNS
        ]

    insert_one = f'INSERT INTO "LiteLLM_SpendLogs" ({cols}) VALUES {values(1)} RETURNING *'
    insert_many = f'INSERT INTO "LiteLLM_SpendLogs" ({cols}) VALUES {values(100)} ON CONFLICT DO NOTHING'

    async def find_unique() -> object:
        return await pool.fetchrow('SELECT * FROM "LiteLLM_VerificationToken" WHERE token = $1', token)

    async def create() -> object:
        return await pool.fetchrow(insert_one, *params(counter.next()))

    async def create_many() -> object:
        flat: list[Any] = []
        for _ in range(100):
            flat += params(counter.next())
        return await pool.execute(insert_many, *flat)

    return {
        "find_unique by PK": find_unique,
        "create (1 spend log)": create,
        "create_many (100 spend logs)": create_many,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set DATABASE_URL or pass --database-url")
    os.environ["PRISMA_QUERY_ENGINE_BINARY"] = str(ROOT / "prisma" / "engine" / "bin" / "query-engine")
    run = f"bench{uuid.uuid4().hex[:8]}"
    token = f"{run}-token"
    pool = await asyncpg.create_pool(args.database_url, min_size=1, max_size=max(args.concurrency) + 1)
    db, prisma_ops = await prisma_side(args.database_url, run, token)
    sides = {"wasm engine": prisma_ops, "asyncpg": await asyncpg_side(pool, run, token)}
    print(f"# {platform.node()}: {os.cpu_count()} cores, Python {sys.version.split()[0]}, run {run}")
    print("| operation | client | concurrency | ops/s | p50 ms | p99 ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    try:
        for op in sides["asyncpg"]:
            for concurrency in args.concurrency:
                for side, ops in sides.items():
                    n = args.iterations if "many" not in op else max(50, args.iterations // 10)
                    r = await measure(ops[op], n, concurrency)
                    print(f"| {op} | {side} | {concurrency} | {r['ops']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |")
    finally:
        await pool.execute('DELETE FROM "LiteLLM_SpendLogs" WHERE api_key LIKE $1', f"{run}%")
        await pool.execute('DELETE FROM "LiteLLM_VerificationToken" WHERE token = $1', token)
        await pool.close()
        await db.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
