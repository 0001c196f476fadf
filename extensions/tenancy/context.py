"""The tenant of the current request, decided once and read everywhere else.

The account-resolving middleware sets it; everything else reads it through
:func:`current_tenant` / :func:`current_account`, which fail closed. Switching tenant is
only possible through :func:`tenant_context` (restores the previous one), and LiteLLM's
background writers run under :func:`system_context`, an explicit, distinct principal.
Work spawned from a request (``asyncio.create_task``) inherits the context, because
``contextvars`` are copied into new tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from extensions.errors import NoTenantContext

__all__ = [
    "PrincipalKind",
    "TenantContext",
    "current_account",
    "current_tenant",
    "peek_tenant",
    "system_context",
    "tenant_context",
]


class PrincipalKind(StrEnum):
    SUPER_ADMIN = "super_admin"  # master key, UI admin, SUPER_ADMIN_EMAILS
    ACCOUNT_ADMIN = "account_admin"
    ACCOUNT_VIEWER = "account_viewer"  # reads the account as an admin would, changes nothing admin-only
    ACCOUNT_MEMBER = "account_member"
    API_KEY = "api_key"
    SYSTEM = "system"  # LiteLLM's background jobs
    ANONYMOUS = "anonymous"  # public routes only


@dataclass(frozen=True)
class TenantContext:
    principal: PrincipalKind
    # None: unrestricted for super admin and system; global rows only for everyone else.
    account_id: str | None = None
    user_id: str | None = None
    acting_as: bool = False  # super admin acting as an account via X-Atrium-Account
    token_hash: str | None = None

    @property
    def unrestricted(self) -> bool:
        """Sees and changes every account's rows: the super admin (not acting) and the system."""
        return self.principal in (PrincipalKind.SUPER_ADMIN, PrincipalKind.SYSTEM) and self.account_id is None

    @property
    def is_super_admin(self) -> bool:
        return self.principal is PrincipalKind.SUPER_ADMIN

    @property
    def is_tenant_principal(self) -> bool:
        """Subject to the route policy's default deny (everyone but super admin and system)."""
        return not self.unrestricted


SYSTEM = TenantContext(PrincipalKind.SYSTEM)

_tenant: ContextVar[TenantContext | None] = ContextVar("atrium_tenant", default=None)


def peek_tenant() -> TenantContext | None:
    """The context if one is set; for logging and for code that must branch on absence."""
    return _tenant.get()


def current_tenant() -> TenantContext:
    ctx = _tenant.get()
    if ctx is None:
        raise NoTenantContext("no tenant context is set for this code path")
    return ctx


def current_account() -> str:
    ctx = current_tenant()
    if ctx.account_id is None:
        raise NoTenantContext(f"principal {ctx.principal} is not scoped to an account")
    return ctx.account_id


@contextmanager
def tenant_context(ctx: TenantContext) -> Iterator[TenantContext]:
    token = _tenant.set(ctx)
    try:
        yield ctx
    finally:
        _tenant.reset(token)


@contextmanager
def system_context() -> Iterator[TenantContext]:
    with tenant_context(SYSTEM) as ctx:
        yield ctx
