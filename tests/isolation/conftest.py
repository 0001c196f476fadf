"""Two accounts built the same way through the real proxy, shared by the isolation tests."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from principals import extend

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account


@pytest.fixture(scope="session")
def account_a(proxy: ProxyProcess, master_key: str) -> AccountWorld:
    return build_account(proxy.base_url, master_key, "alpha")


@pytest.fixture(scope="session")
def account_b(proxy: ProxyProcess, master_key: str) -> AccountWorld:
    return build_account(proxy.base_url, master_key, "bravo")


@pytest.fixture(scope="session")
def sweep_accounts(proxy: ProxyProcess, master_key: str, database_url: str) -> tuple[AccountWorld, AccountWorld]:
    """Two accounts with every kind of principal and object, for the generated route sweep."""
    worlds = (
        extend(proxy.base_url, master_key, build_account(proxy.base_url, master_key, "charlie", with_model=True)),
        extend(proxy.base_url, master_key, build_account(proxy.base_url, master_key, "delta", with_model=True)),
    )
    for world in worlds:
        _wait_for_spend(database_url, world.account_id)
    return worlds


def _wait_for_spend(dsn: str, account_id: str, timeout: float = 60.0) -> None:
    """LiteLLM writes spend logs in batches: the sweep needs each account's row (its ids fill
    the spend-log routes) before it reads them, however loaded the machine is."""

    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            found = await conn.fetchval('SELECT count(*) FROM "LiteLLM_SpendLogs" WHERE account_id = $1', account_id)
            return int(found or 0)
        finally:
            await conn.close()

    deadline = time.monotonic() + timeout
    while asyncio.run(count()) == 0:
        assert time.monotonic() < deadline, f"no spend log of account {account_id} after {timeout:.0f} s"
        time.sleep(0.5)
