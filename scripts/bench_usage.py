"""The Usage page's main call on a large database: one account's last 30 days, against LiteLLM's own
handler for the super admin over the same rows.

    .venv/bin/python scripts/bench_usage.py [--accounts 50] [--spend-logs 2000000] [--days 60]
                                            [--requests 40] [--warmup 5] [--json]

Creates a fresh, migrated database on ``DATABASE_URL``'s server (default the local PostgreSQL),
starts one ``atrium serve`` (1 worker), creates ``--accounts`` accounts through the API (each with
an admin and the admin's key), then fills the tables in SQL on the server: per account 10 users and
20 keys in 2 teams, ``--spend-logs`` rows of ``LiteLLM_SpendLogs`` spread over the accounts, keys,
two models (the account's own ``<account_id>/gpt-own`` and a global one) and ``--days`` days, and the
daily user, team and tag tables aggregated from them as LiteLLM's daily writer would. After
``ANALYZE`` it times ``GET /user/daily/activity/aggregated`` for the last 30 days, sequentially on one
keep-alive connection: as account 0's admin (Atrium's replacement, one account's rows) and as the
super admin (LiteLLM's handler, every account's rows). Printed: median and p95 of each, the ratio of
the medians, and the issue's targets (account view within 2x of LiteLLM's, p95 under 300 ms).
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.services import create_migrated_database, drop_database, with_database

ROOT = Path(__file__).resolve().parents[1]
MASTER_KEY = "sk-bench-usage-master-0123456789abcdef"
DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
USERS, KEYS, TEAMS = 10, 20, 2
ROUTE = "/user/daily/activity/aggregated"
RATIO_TARGET, P95_TARGET_MS = 2.0, 300.0

_USERS_SQL = """INSERT INTO "LiteLLM_UserTable" (user_id, account_id, teams, models, user_role)
SELECT 'bu-' || a.idx || '-' || u, a.account_id, '{}', '{}', 'internal_user'
FROM bench_accounts a, generate_series(0, $1 - 1) u"""
_TEAMS_SQL = """INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, account_id, admins, members, models, updated_at)
SELECT 'bt-' || a.idx || '-' || t, 'bench team ' || a.idx || '-' || t, a.account_id, '{}', '{}', '{}', now()
FROM bench_accounts a, generate_series(0, $1 - 1) t"""
_KEYS_SQL = """CREATE TABLE bench_keys AS
SELECT a.idx AS aidx, k AS kidx, a.account_id,
       md5('bk-' || a.idx || '-' || k) || md5('bk2-' || a.idx || '-' || k) AS token,
       'bu-' || a.idx || '-' || (k % $1) AS user_id, 'bt-' || a.idx || '-' || (k % $2) AS team_id
FROM bench_accounts a, generate_series(0, $3 - 1) k"""
_TOKENS_SQL = """INSERT INTO "LiteLLM_VerificationToken"
    (token, user_id, team_id, account_id, key_alias, models, updated_at)
SELECT token, user_id, team_id, account_id, 'bench-' || aidx || '-' || kidx, '{}', now() FROM bench_keys"""
# Users, teams and keys of each bench account, stamped with it as the scoped writes would.
_FILL: list[tuple[str, tuple[int, ...]]] = [
    (_USERS_SQL, (USERS,)),
    (_TEAMS_SQL, (TEAMS,)),
    (_KEYS_SQL, (USERS, TEAMS, KEYS)),
    (_TOKENS_SQL, ()),
]

_SPEND = """
INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens,
    completion_tokens, "startTime", "endTime", model, model_group, custom_llm_provider, "user", team_id,
    request_tags, status, account_id)
SELECT 'br-' || g, 'acompletion', k.token, 0.0001 * (1 + g % 7), 30 + g % 50, 20 + g % 30, 10 + g % 20,
    ts, ts + interval '1 second',
    CASE WHEN (g / 997) % 2 = 0 THEN 'gpt-own-upstream' ELSE 'gpt-fake' END,
    CASE WHEN (g / 997) % 2 = 0 THEN k.account_id || '/gpt-own' ELSE 'gpt-fake' END,
    'openai', k.user_id, k.team_id, jsonb_build_array('bench-tag-' || (g % 5)),
    CASE WHEN g % 50 = 0 THEN 'failure' ELSE 'success' END, k.account_id
FROM (
    SELECT g, now() - ((g::bigint * 7919) % ($2::bigint * 86400)) * interval '1 second' AS ts
    FROM generate_series(1, $1) g
) s
JOIN bench_keys k ON k.aidx = s.g % $3 AND k.kidx = (s.g / $3) % $4
"""

_DAILY = {
    "LiteLLM_DailyUserSpend": ('"user"', "user_id"),
    "LiteLLM_DailyTeamSpend": ("team_id", "team_id"),
    "LiteLLM_DailyTagSpend": ("request_tags->>0", "tag"),
}


def _daily_sql(table: str, source: str, column: str) -> str:
    return f"""
INSERT INTO "{table}" (id, {column}, date, api_key, model, model_group, custom_llm_provider, prompt_tokens,
    completion_tokens, spend, api_requests, successful_requests, failed_requests, account_id, updated_at)
SELECT gen_random_uuid()::text, {source}, to_char("startTime", 'YYYY-MM-DD'), api_key, model, model_group,
    custom_llm_provider, sum(prompt_tokens), sum(completion_tokens), sum(spend), count(*),
    count(*) FILTER (WHERE status = 'success'), count(*) FILTER (WHERE status <> 'success'), account_id, now()
FROM "LiteLLM_SpendLogs" WHERE request_id LIKE 'br-%'
GROUP BY {source}, to_char("startTime", 'YYYY-MM-DD'), api_key, model, model_group, custom_llm_provider, account_id
"""


def create_accounts(base_url: str, count: int) -> list[tuple[str, str]]:
    """(account_id, admin key) of ``count`` accounts, made through the API as an operator would."""
    made = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=120) as root:
        for i in range(count):
            account = root.post("/account/new", json={"name": f"Bench {i}", "slug": f"bench-{i}"})
            account.raise_for_status()
            account_id = account.json()["account_id"]
            admin = f"bench-{i}-admin"
            root.post("/account/admin/add", json={"account_id": account_id, "user_id": admin}).raise_for_status()
            key = root.post("/key/generate", headers={"X-Atrium-Account": account_id}, json={"user_id": admin})
            key.raise_for_status()
            made.append((account_id, key.json()["key"]))
    return made


async def fill(dsn: str, account_ids: list[str], spend_logs: int, days: int) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE bench_accounts (idx int, account_id text)")
        await conn.executemany("INSERT INTO bench_accounts VALUES ($1, $2)", list(enumerate(account_ids)))
        for statement, args in _FILL:
            await conn.execute(statement, *args)
        await conn.execute(_SPEND, spend_logs, days, len(account_ids), KEYS, timeout=3600)
        for table, (source, column) in _DAILY.items():
            await conn.execute(_daily_sql(table, source, column), timeout=3600)
        await conn.execute("DROP TABLE bench_accounts; DROP TABLE bench_keys")
        await conn.execute("ANALYZE")
        counts = {}
        for table in ("LiteLLM_SpendLogs", *_DAILY):
            counts[table] = int(await conn.fetchval(f'SELECT count(*) FROM "{table}"'))
        return counts
    finally:
        await conn.close()


def timed(client: httpx.Client, key: str, params: dict[str, str], count: int) -> list[float]:
    latencies: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        reply = client.get(ROUTE, params=params, headers={"Authorization": f"Bearer {key}"})
        latencies.append((time.perf_counter() - start) * 1000)
        if reply.status_code != 200:
            raise SystemExit(f"{ROUTE}: {reply.status_code} {reply.text[:300]}")
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
    }


def measure(base_url: str, admin_key: str, requests: int, warmup: int) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    params = {"start_date": (today - timedelta(days=30)).isoformat(), "end_date": today.isoformat()}
    with httpx.Client(base_url=base_url, timeout=300) as client:
        account_total = client.get(ROUTE, params=params, headers={"Authorization": f"Bearer {admin_key}"})
        proxy_total = client.get(ROUTE, params=params, headers={"Authorization": f"Bearer {MASTER_KEY}"})
        figures: dict[str, Any] = {
            "account_requests_30d": account_total.json()["metadata"]["total_api_requests"],
            "proxy_requests_30d": proxy_total.json()["metadata"]["total_api_requests"],
        }
        timed(client, admin_key, params, warmup)
        timed(client, MASTER_KEY, params, warmup)
        figures["account_admin"] = summary(timed(client, admin_key, params, requests))
        figures["super_admin_litellm"] = summary(timed(client, MASTER_KEY, params, requests))
    figures["ratio"] = round(figures["account_admin"]["median_ms"] / figures["super_admin_litellm"]["median_ms"], 3)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--spend-logs", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    server_dsn = with_database(os.environ.get("DATABASE_URL", DEFAULT_SERVER_DSN), "postgres")
    dsn = asyncio.run(create_migrated_database(server_dsn, "bench_usage"))
    try:
        with tempfile.TemporaryDirectory(prefix="bench-usage-") as tmp:
            proxy = ProxyProcess(
                Path(tmp), database_url=dsn, master_key=MASTER_KEY, config={"model_list": []}, workers=1
            )
            proxy.start()
            try:
                accounts = create_accounts(proxy.base_url, args.accounts)
                started = time.perf_counter()
                counts = asyncio.run(fill(dsn, [a for a, _ in accounts], args.spend_logs, args.days))
                figures: dict[str, Any] = {"rows": counts, "fill_s": round(time.perf_counter() - started, 1)}
                figures |= measure(proxy.base_url, accounts[0][1], args.requests, args.warmup)
            finally:
                proxy.stop()
    finally:
        asyncio.run(drop_database(server_dsn, dsn))
    figures["meets_ratio"] = figures["ratio"] <= RATIO_TARGET
    figures["meets_p95"] = figures["account_admin"]["p95_ms"] < P95_TARGET_MS
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"rows: {figures['rows']} (filled in {figures['fill_s']} s)")
        for name in ("account_admin", "super_admin_litellm"):
            print(f"{name:20s} median {figures[name]['median_ms']:8.1f} ms  p95 {figures[name]['p95_ms']:8.1f} ms")
        print(
            f"ratio {figures['ratio']:.2f} (target <= {RATIO_TARGET}); account p95 "
            f"{'meets' if figures['meets_p95'] else 'MISSES'} {P95_TARGET_MS:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
