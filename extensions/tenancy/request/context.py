"""The principal of the current request: decided once, read everywhere else.

The account middleware resolves one immutable :class:`Principal` per request and sets it
here, and only here (no copy in ``scope["state"]``). Every layer reads it through
:func:`current_principal`, which fails closed; :func:`peek_principal` is for code where
absence is legitimate (logging). "Is this code restricted, and to which account?" has one
answer, :attr:`Principal.scope`, computed when the principal is built; the database
layers ask :func:`data_scope`.

Switching principal is only possible through :func:`principal_context` (restores the
previous one), and LiteLLM's background writers run under :func:`system_context`, an
explicit, distinct principal. Work spawned from a request (``asyncio.create_task``)
inherits the principal, because ``contextvars`` are copied into new tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum

from extensions import litellm
from extensions.errors import NoTenantContext, TenancyError

__all__ = [
    "SYSTEM",
    "DataScope",
    "Principal",
    "PrincipalKind",
    "ScopeKind",
    "TenantContext",
    "current_account",
    "current_principal",
    "current_tenant",
    "data_scope",
    "peek_principal",
    "peek_tenant",
    "principal_context",
    "system_context",
    "tenant_context",
]


class PrincipalKind(StrEnum):
    """The role decides what a principal may do, never the mere existence of a row."""

    SUPER_ADMIN = "super_admin"  # master key, UI admin, SUPER_ADMIN_EMAILS
    ACCOUNT_ADMIN = "account_admin"  # also the super admin acting as an account
    ACCOUNT_VIEWER = "account_viewer"  # reads the account as an admin would, changes nothing admin-only
    ACCOUNT_MEMBER = "account_member"
    API_KEY = "api_key"  # any other virtual key; without an account: a global key
    SYSTEM = "system"  # LiteLLM's background jobs, vetted delegated calls
    ANONYMOUS = "anonymous"  # public routes only


_ACCOUNT_ROLES = frozenset({PrincipalKind.ACCOUNT_ADMIN, PrincipalKind.ACCOUNT_VIEWER, PrincipalKind.ACCOUNT_MEMBER})
_UNSCOPED_ROLES = frozenset({PrincipalKind.SUPER_ADMIN, PrincipalKind.SYSTEM})


class ScopeKind(StrEnum):
    UNRESTRICTED = "unrestricted"  # every account's rows
    ACCOUNT = "account"  # one account's rows
    GLOBAL = "global"  # rows of no account only (a global key, anonymous)


@dataclass(frozen=True, slots=True)
class DataScope:
    """Which rows the principal's code may see and change."""

    kind: ScopeKind
    account_id: str | None = None  # the filter value when restricted (None: global rows)
    # The super admin acting in an account stays LiteLLM's master-key user, whose row belongs to
    # no account (LiteLLM adds it to the teams it creates); only that principal reaches it.
    operator_user_id: str | None = None

    @property
    def restricted(self) -> bool:
        return self.kind is not ScopeKind.UNRESTRICTED


_UNRESTRICTED = DataScope(ScopeKind.UNRESTRICTED)
_GLOBAL_ROWS = DataScope(ScopeKind.GLOBAL)


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    account_id: str | None = None
    user_id: str | None = None
    acting_as: bool = False  # the super admin acting as an account via X-Atrium-Account
    token_hash: str | None = None
    scope: DataScope = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Fail closed on impossible principals rather than let a layer guess their scope.
        if self.kind in _ACCOUNT_ROLES and self.account_id is None:
            raise TenancyError(f"an {self.kind} principal needs an account", hint="report this bug")
        if self.acting_as and self.kind is not PrincipalKind.ACCOUNT_ADMIN:
            raise TenancyError("only the super admin acts as an account admin", hint="report this bug")
        if self.account_id is not None:
            operator = litellm.PROXY_ADMIN_USER_ID if self.acting_as else None
            scope = DataScope(ScopeKind.ACCOUNT, self.account_id, operator)
        elif self.kind in _UNSCOPED_ROLES:
            scope = _UNRESTRICTED
        else:
            scope = _GLOBAL_ROWS
        object.__setattr__(self, "scope", scope)

    @property
    def unrestricted(self) -> bool:
        """Sees and changes every account's rows: the super admin (not acting) and the system."""
        return not self.scope.restricted

    @property
    def is_super_admin(self) -> bool:
        return self.kind is PrincipalKind.SUPER_ADMIN

    @property
    def is_tenant_principal(self) -> bool:
        """Subject to the route policy's default deny (everyone but super admin and system)."""
        return self.scope.restricted


TenantContext = Principal  # the name before the principal carried its scope

SYSTEM = Principal(PrincipalKind.SYSTEM)

_principal: ContextVar[Principal | None] = ContextVar("atrium_principal", default=None)


def peek_principal() -> Principal | None:
    """The principal if one is set; for logging and for code that must branch on absence."""
    return _principal.get()


def current_principal() -> Principal:
    found = _principal.get()
    if found is None:
        raise NoTenantContext("no principal is set for this code path")
    return found


def current_account() -> str:
    principal = current_principal()
    if principal.account_id is None:
        raise NoTenantContext(f"principal {principal.kind} is not scoped to an account")
    return principal.account_id


def data_scope() -> DataScope:
    """The rows the running code may touch.

    Outside any principal the code is the gateway's own: every request runs under the
    middleware's principal and LiteLLM's start-up and background jobs under the system's,
    so what is left are LiteLLM callbacks on threads that do not copy the context (health
    checks of every deployment, logging workers).
    """
    found = _principal.get()
    return _UNRESTRICTED if found is None else found.scope


@contextmanager
def principal_context(principal: Principal) -> Iterator[Principal]:
    token = _principal.set(principal)
    try:
        yield principal
    finally:
        _principal.reset(token)


@contextmanager
def system_context() -> Iterator[Principal]:
    with principal_context(SYSTEM) as principal:
        yield principal


# The names before the principal refactor; other modules and tests still use them.
peek_tenant = peek_principal
current_tenant = current_principal
tenant_context = principal_context
