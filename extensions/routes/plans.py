"""``/plan/*`` and ``/account/plan/assign``: the super admin's plans; ``/account/entitlements``: what an
account may have and how much of it it uses (its admins read their own, the super admin any)."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from extensions.budgets.entitlements import usage_counts
from extensions.budgets.plans import (
    FEATURE_NAME,
    FEATURES_MAX,
    Features,
    Overrides,
    Plan,
    PlanLimits,
    entitlements_of,
    plan_store,
)
from extensions.errors import NotFound, RequestError, echo
from extensions.routes.deps import SUPER_ADMIN, SuperAdmin, require, require_database
from extensions.routes.errors import AtriumRoute
from extensions.runtime import runtime
from extensions.tenancy.accounts.store import AccountStore
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["get_plans_router"]

ID_MAX = 128
NAME_MAX = 200
PLAN_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"

PlanId = Annotated[str, Field(pattern=PLAN_ID, description="A slug: lowercase letters, digits and dashes")]
AccountId = Annotated[str, Field(min_length=1, max_length=ID_MAX, description="Account id or slug")]
FeatureFlags = Annotated[Features, Field(max_length=FEATURES_MAX, description="Feature name -> on/off")]


class PlanNew(BaseModel):
    plan_id: PlanId
    name: str = Field(min_length=1, max_length=NAME_MAX)
    account_id: AccountId | None = Field(None, description="Set: a private plan of that account only")
    limits: PlanLimits = Field(default_factory=PlanLimits)
    features: FeatureFlags = Field(default_factory=dict)


class PlanUpdate(BaseModel):
    plan_id: PlanId
    name: str | None = Field(None, min_length=1, max_length=NAME_MAX)
    limits: PlanLimits | None = Field(None, description="Replaces the plan's limits when given")
    features: FeatureFlags | None = Field(None, description="Replaces the plan's features when given")


class PlanRef(BaseModel):
    plan_id: PlanId


class PlanAssign(BaseModel):
    account_id: AccountId
    plan_id: PlanId | None = Field(description="null: take the account off any plan (unlimited)")
    overrides: Overrides = Field(default_factory=Overrides)


def _features(features: Features) -> Features:
    for name in features:
        if not re.fullmatch(FEATURE_NAME, name):
            raise RequestError(
                f"{echo(name)} is not a feature name",
                hint="lowercase letters, digits and underscores, starting with a letter (e.g. sso, usage_export)",
                param="features",
            )
    return features


async def _account_id(id_or_slug: str) -> str:
    accounts: AccountStore = runtime.accounts
    return (await accounts.get(id_or_slug)).account_id


def _out(plan: Plan) -> dict[str, Any]:
    return asdict(plan)


ENTITLEMENTS_READER = require(
    PrincipalKind.ACCOUNT_ADMIN,
    PrincipalKind.ACCOUNT_VIEWER,
    super_admin=True,
    credential="an account admin's key or session, or the master key",
    action="read the account's entitlements",
)


def get_plans_router() -> APIRouter:
    router = APIRouter(tags=["Atrium plans"], dependencies=[Depends(require_database)], route_class=AtriumRoute)
    admin = [Depends(SUPER_ADMIN)]

    @router.post("/plan/new", dependencies=admin, summary="Create a plan (limits and feature flags)")
    async def plan_new(body: PlanNew) -> dict[str, Any]:
        owner = await _account_id(body.account_id) if body.account_id is not None else None
        plan = await plan_store().create(body.plan_id, body.name, body.limits, _features(body.features), owner)
        return _out(plan)

    @router.post("/plan/update", dependencies=admin, summary="Change a plan; applies to its accounts at once")
    async def plan_update(body: PlanUpdate) -> dict[str, Any]:
        features = _features(body.features) if body.features is not None else None
        return _out(await plan_store().update(body.plan_id, body.name, body.limits, features))

    @router.post("/plan/delete", dependencies=admin, summary="Delete a plan no account is on")
    async def plan_delete(body: PlanRef) -> dict[str, Any]:
        await plan_store().delete(body.plan_id)
        return {"deleted": True, "plan_id": body.plan_id}

    @router.get("/plan/list", dependencies=admin, summary="Plans (with account_id: those it can be given)")
    async def plan_list(
        account_id: str | None = Query(None, min_length=1, max_length=ID_MAX, description="Account id or slug"),
    ) -> dict[str, list[dict[str, Any]]]:
        owner = await _account_id(account_id) if account_id is not None else None
        return {"plans": [_out(p) for p in await plan_store().list_plans(owner)]}

    @router.get("/plan/info", dependencies=admin, summary="One plan")
    async def plan_info(plan_id: str = Query(pattern=PLAN_ID)) -> dict[str, Any]:
        return _out(await plan_store().get(plan_id))

    @router.post("/account/plan/assign", summary="Put an account on a plan, with overrides")
    async def account_plan_assign(body: PlanAssign, ctx: SuperAdmin) -> dict[str, Any]:
        account_id = await _account_id(body.account_id)
        _features(body.overrides.features)
        await plan_store().assign(account_id, body.plan_id, body.overrides, ctx.user_id or "master_key")
        return {"account_id": account_id, **(await entitlements_of(account_id)).public()}

    @router.get("/account/entitlements", summary="The account's limits, features and current counts")
    async def account_entitlements(
        ctx: Annotated[Principal, Depends(ENTITLEMENTS_READER)],
        account_id: str | None = Query(None, min_length=1, max_length=ID_MAX, description="Super admin: which"),
    ) -> dict[str, Any]:
        if ctx.account_id is not None:  # an account's admin (or the super admin acting as one): its own only
            if account_id is not None and account_id != ctx.account_id:
                raise NotFound(f"account {echo(account_id)} not found", hint="omit account_id: you see your own")
            target = ctx.account_id
        elif account_id is None:
            raise RequestError("name the account", hint="pass ?account_id=<id or slug>", param="account_id")
        else:
            target = await _account_id(account_id)
        ent = await entitlements_of(target)
        return {"account_id": target, **ent.public(), "usage": await usage_counts(target)}

    return router
