"""``/account/*``: the super admin's API for accounts (tenants), in LiteLLM's naming style."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from extensions.routes.deps import SUPER_ADMIN, SuperAdmin, require_database
from extensions.routes.errors import AtriumRoute
from extensions.runtime import runtime
from extensions.tenancy.accounts.store import Account, AccountStore

__all__ = ["get_accounts_router"]


# Bounds on what a caller may send: stored text stays small and error messages stay short.
NAME_MAX = 200
SLUG_MAX = 63  # the slug rule's own limit (tenancy/accounts/store.py)
ID_MAX = 128
DOMAIN_MAX = 253  # RFC 1035
DOMAINS_MAX = 100
SETTINGS_MAX = 100  # top-level keys

AccountId = Annotated[str, Field(min_length=1, max_length=ID_MAX, description="Account id or slug")]
Domains = Annotated[list[Annotated[str, Field(max_length=DOMAIN_MAX)]], Field(max_length=DOMAINS_MAX)]


class AccountNew(BaseModel):
    name: str = Field(max_length=NAME_MAX, description="Display name")
    slug: str | None = Field(
        None, max_length=SLUG_MAX, description="Unique URL-safe id; derived from the name when omitted"
    )
    email_domains: Domains = Field(default_factory=list, description="Email domains that sign in to this account")
    settings: dict[str, Any] = Field(
        default_factory=dict, max_length=SETTINGS_MAX, description="Free-form account settings"
    )


class AccountUpdate(BaseModel):
    account_id: AccountId
    name: str | None = Field(None, max_length=NAME_MAX)
    slug: str | None = Field(None, max_length=SLUG_MAX)
    email_domains: Domains | None = Field(None, description="Replaces the account's domains when given")
    settings: dict[str, Any] | None = Field(
        None, max_length=SETTINGS_MAX, description="Replaces the settings when given"
    )


class AccountRef(BaseModel):
    account_id: AccountId


class AccountAdminChange(BaseModel):
    account_id: AccountId
    user_id: str = Field(
        min_length=1,
        max_length=ID_MAX,
        description="LiteLLM user id; created inside the account when it does not exist",
    )
    role: str = Field("admin", max_length=32, description="admin or viewer")


class AccountResponse(BaseModel):
    account_id: str
    name: str
    slug: str
    status: str
    settings: dict[str, Any]
    email_domains: list[str]
    admins: list[dict[str, Any]]
    created_at: str | None
    updated_at: str | None


def _out(account: Account) -> AccountResponse:
    return AccountResponse(**asdict(account))


def _store() -> AccountStore:
    store: AccountStore = runtime.accounts
    return store


def get_accounts_router() -> APIRouter:
    router = APIRouter(
        prefix="/account",
        tags=["Atrium accounts"],
        dependencies=[Depends(require_database), Depends(SUPER_ADMIN)],
        route_class=AtriumRoute,
    )

    @router.post("/new", response_model=AccountResponse, summary="Create an account (tenant)")
    async def account_new(body: AccountNew, ctx: SuperAdmin) -> AccountResponse:
        return _out(
            await _store().create(
                name=body.name,
                slug=body.slug,
                email_domains=body.email_domains,
                settings=body.settings,
                created_by=ctx.user_id or "master_key",
            )
        )

    @router.get("/list", summary="List accounts")
    async def account_list(
        status: str | None = Query(None, max_length=32, description="active, suspended or deleted"),
    ) -> dict[str, list[AccountResponse]]:
        return {"accounts": [_out(a) for a in await _store().list_accounts(status)]}

    @router.get("/info", response_model=AccountResponse, summary="One account with its domains and admins")
    async def account_info(
        account_id: str = Query(min_length=1, max_length=ID_MAX, description="Account id or slug"),
    ) -> AccountResponse:
        return _out(await _store().get(account_id))

    @router.post("/update", response_model=AccountResponse, summary="Change name, slug, domains or settings")
    async def account_update(body: AccountUpdate) -> AccountResponse:
        return _out(
            await _store().update(
                body.account_id,
                name=body.name,
                slug=body.slug,
                email_domains=body.email_domains,
                settings=body.settings,
            )
        )

    @router.post("/delete", response_model=AccountResponse, summary="Soft-delete: keys stop working, data is kept")
    async def account_delete(body: AccountRef) -> AccountResponse:
        return _out(await _store().set_status(body.account_id, "deleted"))

    @router.post("/suspend", response_model=AccountResponse, summary="Suspend: keys and sessions get 403")
    async def account_suspend(body: AccountRef) -> AccountResponse:
        return _out(await _store().set_status(body.account_id, "suspended"))

    @router.post("/reactivate", response_model=AccountResponse, summary="Reactivate a suspended account")
    async def account_reactivate(body: AccountRef) -> AccountResponse:
        return _out(await _store().set_status(body.account_id, "active"))

    @router.post("/admin/add", response_model=AccountResponse, summary="Make a user an account admin")
    async def account_admin_add(body: AccountAdminChange, ctx: SuperAdmin) -> AccountResponse:
        return _out(await _store().add_admin(body.account_id, body.user_id, body.role, ctx.user_id or "master_key"))

    @router.post("/admin/remove", response_model=AccountResponse, summary="Remove an account admin")
    async def account_admin_remove(body: AccountAdminChange) -> AccountResponse:
        return _out(await _store().remove_admin(body.account_id, body.user_id))

    return router
