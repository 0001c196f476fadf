"""Two accounts built the same way through the real proxy, shared by the isolation tests."""

from __future__ import annotations

import pytest

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account


@pytest.fixture(scope="session")
def account_a(proxy: ProxyProcess, master_key: str) -> AccountWorld:
    return build_account(proxy.base_url, master_key, "alpha")


@pytest.fixture(scope="session")
def account_b(proxy: ProxyProcess, master_key: str) -> AccountWorld:
    return build_account(proxy.base_url, master_key, "bravo")
