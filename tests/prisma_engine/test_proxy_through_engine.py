"""The unmodified LiteLLM proxy through the offline engine: keys, teams, spend, daily spend, views."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import openai

from extensions.prisma_engine import select_engine
from extensions.testing.proxy_process import ProxyProcess


async def _fetchval(dsn: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def eventually(dsn: str, sql: str, *args: object, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    value: object = None
    while time.monotonic() < deadline:
        value = asyncio.run(_fetchval(dsn, sql, *args))
        if value:
            return value
        time.sleep(0.5)
    return value


def test_no_native_engine_was_needed() -> None:
    # On this machine Prisma's binary host is unreachable; the proxy below ran on the wasm engine.
    assert select_engine().kind in ("wasm", "native")


def test_proxy_keys_teams_spend_and_views(proxy: ProxyProcess, master_key: str, database_url: str) -> None:
    admin = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    team = admin.post("/team/new", json={"team_alias": "engine-team", "models": ["gpt-fake"]})
    assert team.status_code == 200, team.text
    team_id = team.json()["team_id"]
    assert admin.get("/team/info", params={"team_id": team_id}).json()["team_id"] == team_id

    key = admin.post("/key/generate", json={"team_id": team_id, "models": ["gpt-fake"]})
    assert key.status_code == 200, key.text
    secret, token_hash = key.json()["key"], key.json()["token"]
    assert admin.get("/key/info", params={"key": secret}).status_code == 200

    client = openai.OpenAI(api_key=secret, base_url=f"{proxy.base_url}/v1")
    client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "bill me"}])

    assert eventually(database_url, 'SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE api_key = $1', token_hash)
    assert eventually(database_url, 'SELECT count(*) FROM "LiteLLM_DailyTeamSpend" WHERE team_id = $1', team_id)
    assert eventually(database_url, 'SELECT count(*) FROM "LiteLLM_DailyUserSpend" WHERE api_key = $1', token_hash)
    assert eventually(database_url, 'SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = $1', token_hash)
    # LiteLLM creates its views at start-up through query_raw/execute_raw.
    assert eventually(database_url, "SELECT count(*) FROM pg_views WHERE viewname = 'LiteLLM_VerificationTokenView'")
