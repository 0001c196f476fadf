"""Budget overrun: the same burst against a LiteLLM key budget (vanilla) and an Atrium account budget.

Each case sends ``--requests`` concurrent chat completions (``max_tokens`` set) through
``--replicas`` proxies of ``--workers`` workers, on the fake upstream (gpt-fake: $0.001 per input
token, $0.002 per output token; each answer costs $0.017). Vanilla LiteLLM: one key with
``max_budget`` = the budget (LiteLLM's own admission-time reservation). Atrium: an account whose
budget is the budget, the load spread over 50 keys in 5 teams. Printed: served, refused, settled
spend (from LiteLLM's spend logs) and the ratio to the budget, for a budget of ``--budget`` and
for a budget smaller than one request's worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from extensions.testing.budget_load import fire, warm_keys
from extensions.testing.fake_upstream import free_port
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.services import create_migrated_database, drop_database
from extensions.testing.tenants import build_account
from extensions.testing.vanilla import vanilla_proxy

MASTER_KEY = "sk-bench-budgets"
DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TINY = 0.0000001


def config(upstream: str) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": "gpt-fake",
                "litellm_params": {
                    "model": "openai/gpt-fake",
                    "api_base": upstream,
                    "api_key": "sk-upstream",
                    "input_cost_per_token": 0.001,
                    "output_cost_per_token": 0.002,
                },
            }
        ],
        "general_settings": {"proxy_batch_write_at": 1},
    }


def _ok(reply: httpx.Response) -> dict[str, Any]:
    if reply.status_code != 200:
        raise RuntimeError(f"{reply.request.url.path}: {reply.status_code} {reply.text[:300]}")
    body: dict[str, Any] = reply.json()
    return body


async def settled(dsn: str, tokens: list[str], seconds: float = 20.0) -> float:
    """LiteLLM's spend logs for the keys, once the batch writers have stopped adding to them."""
    conn = await asyncpg.connect(dsn)
    try:
        last, stable_since = -1.0, time.monotonic()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            total = float(
                await conn.fetchval(
                    'SELECT coalesce(sum(spend), 0) FROM "LiteLLM_SpendLogs" WHERE api_key = ANY($1::text[])', tokens
                )
            )
            if total != last:
                last, stable_since = total, time.monotonic()
            elif time.monotonic() - stable_since > seconds / 4:
                return total
            await asyncio.sleep(1)
        return last
    finally:
        await conn.close()


def vanilla_case(replicas: list[ProxyProcess], budget: float, requests: int) -> tuple[int, int, list[str]]:
    root = httpx.Client(base_url=replicas[0].base_url, headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=60)
    key = _ok(root.post("/key/generate", json={"max_budget": budget, "models": ["gpt-fake"]}))
    asyncio.run(warm_keys([r.base_url for r in replicas], [key["key"]]))
    result = asyncio.run(fire([r.base_url for r in replicas], [key["key"]], requests))
    return result.served, len(result.refused), [key["token"]]


def atrium_case(replicas: list[ProxyProcess], budget: float, requests: int, slug: str) -> tuple[int, int, list[str]]:
    account = build_account(replicas[0].base_url, MASTER_KEY, slug)
    admin = httpx.Client(
        base_url=replicas[0].base_url, headers={"Authorization": f"Bearer {account.admin_key}"}, timeout=60
    )
    keys, tokens = [], []
    for t in range(5):
        team = _ok(admin.post("/team/new", json={"team_alias": f"{slug}-{t}", "models": ["gpt-fake"]}))
        for _ in range(10):
            key = _ok(admin.post("/key/generate", json={"team_id": team["team_id"], "models": ["gpt-fake"]}))
            keys.append(key["key"])
            tokens.append(key["token"])
    asyncio.run(warm_keys([r.base_url for r in replicas], keys))
    root = httpx.Client(base_url=replicas[0].base_url, headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=60)
    _ok(root.post("/account/budget", json={"account_id": account.account_id, "max_budget": budget}))
    result = asyncio.run(fire([r.base_url for r in replicas], keys, requests))
    return result.served, len(result.refused), tokens


def make_proxy(name: str, workdir: Path, dsn: str, cfg: dict[str, Any], workers: int) -> ProxyProcess:
    if name == "vanilla":
        return vanilla_proxy(workdir, database_url=dsn, master_key=MASTER_KEY, config=cfg, workers=workers)
    return ProxyProcess(workdir, database_url=dsn, master_key=MASTER_KEY, config=cfg, workers=workers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    server_dsn = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_SERVER_DSN
    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "extensions.testing.fake_upstream", "--port", str(port), "--name", "bench"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tmp = tempfile.TemporaryDirectory(prefix="bench-budgets-")
    rows: list[str] = []
    try:
        for name in ("vanilla", "atrium"):
            dsn = asyncio.run(create_migrated_database(server_dsn, f"bench_budgets_{name}"))
            cfg = config(f"http://127.0.0.1:{port}/v1")
            # Vanilla LiteLLM's own multi-worker start fails on the offline Prisma engine ("'Prisma' object has
            # no attribute '_Prisma__engine'" in its spawned workers), so vanilla runs as replicas x workers
            # single-worker processes: the same number of processes sharing one budget.
            replicas = (
                [make_proxy(name, Path(tmp.name), dsn, cfg, 1) for _ in range(args.replicas * args.workers)]
                if name == "vanilla"
                else [make_proxy(name, Path(tmp.name), dsn, cfg, args.workers) for _ in range(args.replicas)]
            )
            try:
                with ThreadPoolExecutor(max_workers=len(replicas)) as pool:
                    for future in [pool.submit(r.start) for r in replicas]:
                        future.result()
                for n, budget in enumerate((args.budget, TINY)):
                    print(f"{name}: budget ${budget}", file=sys.stderr, flush=True)
                    if name == "vanilla":
                        served, refused, tokens = vanilla_case(replicas, budget, args.requests)
                    else:
                        served, refused, tokens = atrium_case(replicas, budget, args.requests, f"bench-{n}")
                    spent = asyncio.run(settled(dsn, tokens))
                    rows.append(
                        f"| {name} | ${budget:g} | {args.requests} | {served} | {refused} | ${spent:.6f} "
                        f"| {spent / budget:.2f}x |"
                    )
            finally:
                for replica in replicas:
                    replica.stop()
                asyncio.run(drop_database(server_dsn, dsn))
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
        tmp.cleanup()
    print(f"{args.replicas} replicas x {args.workers} workers, {args.requests} concurrent requests, max_tokens 5")
    print("| proxy | budget | requests | served | refused | settled spend | spend / budget |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
