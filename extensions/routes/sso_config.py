"""``/atrium/sso/config``: an account admin manages the account's OIDC provider."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from extensions.auth.errors import SsoNotConfigured
from extensions.auth.service import identity_services
from extensions.budgets.entitlements import require_feature
from extensions.egress import current_policy
from extensions.routes.deps import IdentityAdmin, require_database
from extensions.routes.errors import AtriumRoute
from extensions.tenancy.policy.config_values import check_references

__all__ = ["get_sso_config_router"]

URL_MAX = 2048


class SsoConfigIn(BaseModel):
    issuer: str = Field(max_length=URL_MAX, description="The IdP's issuer URL, exactly as in its discovery document")
    discovery_url: str | None = Field(
        None, max_length=URL_MAX, description="Default: <issuer>/.well-known/openid-configuration"
    )
    client_id: str = Field(max_length=512)
    client_secret: str | None = Field(
        None, max_length=4096, description="Write-only; kept when omitted and the client id is unchanged"
    )
    scopes: str = Field("openid email profile", max_length=1024)
    allowed_domains: list[Annotated[str, Field(max_length=253)]] = Field(
        default_factory=list, max_length=100, description="Default: all the account's email domains"
    )
    role_claim: str = Field("groups", max_length=128, description="id_token claim holding groups or roles")
    admin_values: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list, max_length=100, description="Claim values that make an account admin"
    )
    enabled: bool = True


def get_sso_config_router() -> APIRouter:
    router = APIRouter(
        prefix="/atrium/sso",
        tags=["Atrium identity"],
        dependencies=[Depends(require_database)],
        route_class=AtriumRoute,
    )

    @router.get("/config", summary="The account's OIDC provider (the client secret is never returned)")
    async def sso_config_get(ctx: IdentityAdmin) -> dict[str, Any]:
        assert ctx.account_id is not None
        config = await identity_services().configs.get(ctx.account_id)
        if config is None:
            raise SsoNotConfigured("this account has no SSO configured", hint="POST /atrium/sso/config to set one")
        return config.public()

    @router.post("/config", summary="Create or replace the account's OIDC provider")
    async def sso_config_set(body: SsoConfigIn, ctx: IdentityAdmin) -> dict[str, Any]:
        assert ctx.account_id is not None
        await require_feature(ctx.account_id, "sso", "single sign-on")
        # The gateway calls these URLs itself (discovery, then the JWKS and token endpoints the
        # discovery document names, each checked again when called: extensions/auth/oidc_flow.py).
        check_references(body.model_dump(), "")
        await current_policy().check(body.issuer, "issuer", unresolvable_ok=True)
        if body.discovery_url:
            await current_policy().check(body.discovery_url, "discovery_url", unresolvable_ok=True)
        config = await identity_services().configs.put(
            ctx.account_id,
            issuer=body.issuer,
            discovery_url=body.discovery_url,
            client_id=body.client_id,
            client_secret=body.client_secret,
            scopes=body.scopes,
            allowed_domains=body.allowed_domains,
            role_claim=body.role_claim,
            admin_values=body.admin_values,
            enabled=body.enabled,
            updated_by=ctx.user_id or ("master_key" if ctx.acting_as else None),
            by_super_admin=ctx.acting_as,
        )
        return config.public()

    @router.post("/config/delete", summary="Remove the account's OIDC provider (password login remains)")
    async def sso_config_delete(ctx: IdentityAdmin) -> dict[str, Any]:
        assert ctx.account_id is not None
        if not await identity_services().configs.delete(ctx.account_id):
            raise SsoNotConfigured("this account has no SSO configured", hint="nothing to delete")
        return {"deleted": True}

    return router
