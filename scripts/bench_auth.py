"""Authentication latency on a warm ``atrium serve``: an unknown key, and a known global key.

    .venv/bin/python scripts/bench_auth.py [--requests 200] [--warmup 20] [--json]

Starts one proxy (1 worker) on a freshly created, migrated database (``DATABASE_URL``'s server,
default the local PostgreSQL), generates a global key with the master key, warms both paths,
then sends ``--requests`` sequential ``GET /v1/models`` with (a) a key that does not exist and
(b) the global key, each on one keep-alive connection, and prints the median and p95 in ms.
The unknown key's target is < 100 ms (it used to take ~2.3 s: the raw SQL guard refused
LiteLLM's key lookup and LiteLLM retried with backoff). No database or LLM upstream call is
made on either path beyond the key lookup, so the figure is the authentication path itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.services import create_migrated_database, drop_database, with_database

ROOT = Path(__file__).resolve().parents[1]
MASTER_KEY = "sk-bench-auth-master-0123456789abcdef"
DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_MS = 100.0


def timed(client: httpx.Client, key: str, count: int, expect: int) -> list[float]:
    """Milliseconds per request; every answer must have the expected status."""
    latencies: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        reply = client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
        latencies.append((time.perf_counter() - start) * 1000)
        if reply.status_code != expect:
            raise SystemExit(f"expected {expect}, got {reply.status_code}: {reply.text[:300]}")
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
        "max_ms": round(ordered[-1], 2),
    }


def measure(base_url: str, requests: int, warmup: int) -> dict[str, dict[str, float]]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        generated = client.post(
            "/key/generate", headers={"Authorization": f"Bearer {MASTER_KEY}"}, json={"key_alias": "bench-auth"}
        )
        generated.raise_for_status()
        global_key = generated.json()["key"]
        unknown = "sk-" + uuid.uuid4().hex
        timed(client, unknown, warmup, 401)
        timed(client, global_key, warmup, 200)
        return {
            "unknown_key": summary(timed(client, unknown, requests, 401)),
            "global_key": summary(timed(client, global_key, requests, 200)),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    server_dsn = with_database(os.environ.get("DATABASE_URL", DEFAULT_SERVER_DSN), "postgres")
    dsn = asyncio.run(create_migrated_database(server_dsn, "bench_auth"))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
            proxy = ProxyProcess(
                Path(tmp), database_url=dsn, master_key=MASTER_KEY, config={"model_list": []}, workers=1
            )
            proxy.start()
            try:
                figures = measure(proxy.base_url, args.requests, args.warmup)
            finally:
                proxy.stop()
    finally:
        asyncio.run(drop_database(server_dsn, dsn))
    if args.json:
        print(json.dumps(figures))
    else:
        for name, figure in figures.items():
            print(
                f"{name:12s} median {figure['median_ms']:8.2f} ms  p95 {figure['p95_ms']:8.2f} ms  "
                f"max {figure['max_ms']:8.2f} ms"
            )
        verdict = "meets" if figures["unknown_key"]["median_ms"] < TARGET_MS else "MISSES"
        print(f"unknown key {verdict} the {TARGET_MS:.0f} ms target (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
