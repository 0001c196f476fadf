"""Budget test helpers: SQL on the session database, setting a budget, a fresh account per test."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account


def run_sql(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(go())


def set_budget(proxy: ProxyProcess, account_id: str, **fields: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{proxy.base_url}/account/budget",
        json={"account_id": account_id, **fields},
        headers={"Authorization": f"Bearer {proxy.master_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def fresh_account(proxy: ProxyProcess) -> AccountWorld:
    """A new account (its own keys, team and one request of spend)."""
    return build_account(proxy.base_url, proxy.master_key, f"budget-{uuid.uuid4().hex[:8]}")
