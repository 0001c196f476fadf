"""FastAPI dependencies shared by Atrium's routers."""

from __future__ import annotations

from fastapi import Request

from extensions.errors import AtriumError, AuthenticationRequired, TenancyError
from extensions.runtime import runtime
from extensions.tenancy.context import PrincipalKind, TenantContext

__all__ = ["require_database", "require_super_admin", "tenant_of"]


def tenant_of(request: Request) -> TenantContext | None:
    ctx = request.scope.get("state", {}).get("atrium_tenant")
    return ctx if isinstance(ctx, TenantContext) else None


async def require_super_admin(request: Request) -> TenantContext:
    ctx = tenant_of(request)
    if ctx is None or ctx.principal is PrincipalKind.ANONYMOUS:
        raise AuthenticationRequired("authentication required", hint="send the master key as a Bearer token")
    if ctx.principal is not PrincipalKind.SUPER_ADMIN or not ctx.unrestricted:
        raise TenancyError("only the super admin can manage accounts", hint="use the master key")
    return ctx


def require_database() -> None:
    if runtime.accounts is None:
        raise AtriumError("accounts need a database", hint="set DATABASE_URL")
