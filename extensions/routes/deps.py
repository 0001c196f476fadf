"""FastAPI dependencies shared by Atrium's routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from extensions.errors import AtriumError, AuthenticationRequired, RequestError, TenancyError
from extensions.runtime import runtime
from extensions.tenancy.context import PrincipalKind, TenantContext

__all__ = [
    "AccountAdmin",
    "AnyTenant",
    "json_object",
    "require_account_admin",
    "require_database",
    "require_super_admin",
    "require_tenant",
    "tenant_of",
]


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


async def require_account_admin(request: Request) -> TenantContext:
    """An account admin (or the super admin acting as the account): manages models and credentials."""
    ctx = tenant_of(request)
    if ctx is None or ctx.principal is PrincipalKind.ANONYMOUS:
        raise AuthenticationRequired("authentication required", hint="send an account admin key as a Bearer token")
    if ctx.account_id is None or ctx.principal is not PrincipalKind.ACCOUNT_ADMIN:
        raise TenancyError(
            "only an account admin can manage the account's models and credentials",
            hint="use an account admin's key or session, or ask your account admin",
        )
    return ctx


async def require_tenant(request: Request) -> TenantContext:
    """Any authenticated principal of an account (or a global key): reads its own view."""
    ctx = tenant_of(request)
    if ctx is None or ctx.principal is PrincipalKind.ANONYMOUS:
        raise AuthenticationRequired("authentication required", hint="send an API key as a Bearer token")
    return ctx


async def json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise RequestError("the request body is not valid JSON", hint="send a JSON object") from exc
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object", hint="send a JSON object")
    return body


AccountAdmin = Annotated[TenantContext, Depends(require_account_admin)]
AnyTenant = Annotated[TenantContext, Depends(require_tenant)]
