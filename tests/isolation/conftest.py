"""Two accounts built the same way through the real proxy, shared by the isolation tests."""

from __future__ import annotations

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
def sweep_accounts(proxy: ProxyProcess, master_key: str) -> tuple[AccountWorld, AccountWorld]:
    """Two accounts with every kind of principal and object, for the generated route sweep."""
    return (
        extend(proxy.base_url, master_key, build_account(proxy.base_url, master_key, "charlie", with_model=True)),
        extend(proxy.base_url, master_key, build_account(proxy.base_url, master_key, "delta", with_model=True)),
    )
