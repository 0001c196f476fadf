"""Who may manage an account's identity settings: its admins (and the super admin acting as it)."""

from __future__ import annotations

from fastapi import Request

from extensions.auth.errors import AccountAdminRequired
from extensions.errors import AuthenticationRequired
from extensions.routes.deps import tenant_of
from extensions.tenancy.context import PrincipalKind, TenantContext

__all__ = ["require_account_admin"]


async def require_account_admin(request: Request) -> TenantContext:
    ctx = tenant_of(request)
    if ctx is None or ctx.principal is PrincipalKind.ANONYMOUS:
        raise AuthenticationRequired("authentication required", hint="send an account admin's key or UI session")
    if ctx.principal is PrincipalKind.SUPER_ADMIN and ctx.account_id is None:
        raise AccountAdminRequired(
            "the super admin must choose an account", hint="send X-Atrium-Account: <account id or slug>"
        )
    if ctx.principal is not PrincipalKind.ACCOUNT_ADMIN or ctx.account_id is None:
        raise AccountAdminRequired(
            "only an account admin can manage sign-in and invitations",
            hint="ask an admin of your account (or the super admin) to do this",
        )
    return ctx
