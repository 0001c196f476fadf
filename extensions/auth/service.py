"""The identity services of this worker, built on the runtime's pool once it exists."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from extensions.auth.oidc_config import OidcConfigStore
from extensions.auth.oidc_flow import OidcFlow
from extensions.errors import AtriumError
from extensions.runtime import runtime
from extensions.tenancy.accounts.store import AccountStore

__all__ = ["IdentityServices", "identity_services"]


@dataclass
class IdentityServices:
    pool: asyncpg.Pool
    accounts: AccountStore
    configs: OidcConfigStore
    flow: OidcFlow


_services: IdentityServices | None = None


def identity_services() -> IdentityServices:
    global _services
    if runtime.pool is None or runtime.accounts is None:
        raise AtriumError("sign-in needs a database", hint="set DATABASE_URL")
    if _services is None or _services.pool is not runtime.pool:
        _services = IdentityServices(
            runtime.pool, runtime.accounts, OidcConfigStore(runtime.pool), OidcFlow(runtime.pool)
        )
    return _services
