"""FastAPI dependencies shared by Atrium's routers: who may call a route, and body helpers.

Route authorization has one factory, :func:`require`; the typed aliases below are what
handlers declare (``ctx: AccountAdmin``). A requirement reads the request's
:class:`~extensions.tenancy.request.context.Principal` (set once by the account middleware) and
decides on its role: an account viewer never passes an admin requirement, whatever rows
exist for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from extensions.auth.errors import AccountAdminRequired
from extensions.errors import AtriumError, AuthenticationRequired, ConfigurationError, RequestError, TenancyError
from extensions.runtime import runtime
from extensions.tenancy.request.context import Principal, PrincipalKind, peek_principal

__all__ = [
    "SUPER_ADMIN",
    "AccountAdmin",
    "AnyTenant",
    "IdentityAdmin",
    "Requirement",
    "SuperAdmin",
    "json_object",
    "require",
    "require_database",
]


@dataclass(frozen=True)
class Requirement:
    """A route's authorization, as a FastAPI dependency that returns the principal.

    ``roles`` are the account-scoped roles admitted (the super admin acting as an account
    is an account admin); ``super_admin`` admits the super admin itself (not acting);
    ``any_tenant`` admits every authenticated principal. The refusal's error class and
    wording are part of a route's answer, so they are chosen per requirement.
    """

    roles: frozenset[PrincipalKind] = frozenset()
    super_admin: bool = False
    any_tenant: bool = False
    credential: str = "an API key"  # what the 401 asks the caller to send
    action: str = "call this route"  # what the 403 says the caller may not do
    refusal: type[AtriumError] = TenancyError
    hint: str | None = None  # how to get the right to; defaults by requirement

    @property
    def admin_only(self) -> bool:
        """Only an account admin (or the super admin acting as one) passes."""
        return self.roles == {PrincipalKind.ACCOUNT_ADMIN} and not self.any_tenant and not self.super_admin

    async def __call__(self) -> Principal:
        principal = peek_principal()  # absent outside the middleware: refused like anonymous
        if principal is None or principal.kind is PrincipalKind.ANONYMOUS:
            raise AuthenticationRequired("authentication required", hint=f"send {self.credential} as a Bearer token")
        if self.any_tenant:
            return principal
        if self.super_admin and principal.kind is PrincipalKind.SUPER_ADMIN and principal.unrestricted:
            return principal
        if principal.kind in self.roles and principal.account_id is not None:
            return principal
        if self.roles and principal.kind is PrincipalKind.SUPER_ADMIN and principal.account_id is None:
            raise self.refusal(
                "the super admin must choose an account", hint="send X-Atrium-Account: <account id or slug>"
            )
        who = "the super admin" if self.super_admin and not self.roles else "an account admin"
        raise self.refusal(f"only {who} can {self.action}", hint=self._hint())

    def _hint(self) -> str:
        if self.hint is not None:
            return self.hint
        if self.super_admin and not self.roles:
            return "use the master key"
        return "use an account admin's key or session, or ask your account admin"


def require(
    *roles: PrincipalKind,
    super_admin: bool = False,
    any_tenant: bool = False,
    credential: str = "an API key",
    action: str = "call this route",
    refusal: type[AtriumError] = TenancyError,
    hint: str | None = None,
) -> Requirement:
    """The dependency admitting ``roles`` (and/or the super admin, or any tenant principal)."""
    if not (roles or super_admin or any_tenant):
        raise ConfigurationError("a route requirement admits nobody", hint="name a role")
    return Requirement(frozenset(roles), super_admin, any_tenant, credential, action, refusal, hint)


def require_database() -> None:
    if runtime.accounts is None:
        raise AtriumError("accounts need a database", hint="set DATABASE_URL")


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise RequestError("the request body is not valid JSON", hint="send a JSON object") from exc
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object", hint="send a JSON object")
    return body


SUPER_ADMIN = require(super_admin=True, credential="the master key", action="manage accounts")
SuperAdmin = Annotated[Principal, Depends(SUPER_ADMIN)]
"""The super admin itself (not acting as an account): accounts and global settings."""

AccountAdmin = Annotated[
    Principal,
    Depends(
        require(
            PrincipalKind.ACCOUNT_ADMIN,
            credential="an account admin key",
            action="manage the account's models and credentials",
        )
    ),
]
"""An account admin, or the super admin acting as the account: models and credentials."""

IdentityAdmin = Annotated[
    Principal,
    Depends(
        require(
            PrincipalKind.ACCOUNT_ADMIN,
            credential="an account admin's key or UI session",
            action="manage sign-in and invitations",
            refusal=AccountAdminRequired,
            hint="ask an admin of your account (or the super admin) to do this",
        )
    ),
]
"""An account admin managing the account's identity settings (SSO, invitations)."""

AnyTenant = Annotated[Principal, Depends(require(any_tenant=True))]
"""Any authenticated principal (a global key included): reads its own view."""
