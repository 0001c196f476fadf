"""``/account/budget``: an account's budget. The super admin sets it; the account's admins read it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from extensions.budgets.periods import check_duration, check_timezone
from extensions.budgets.settings import BudgetSettings, BudgetSettingsStore, thresholds_of
from extensions.errors import AtriumError, NotFound, RequestError
from extensions.routes.accounts import ID_MAX
from extensions.routes.deps import SuperAdmin, require, require_database
from extensions.routes.errors import AtriumRoute
from extensions.runtime import runtime
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["get_budgets_router"]

MONEY_MAX = 1e12

BudgetReader = Annotated[
    Principal,
    Depends(
        require(
            PrincipalKind.ACCOUNT_ADMIN,
            PrincipalKind.ACCOUNT_VIEWER,
            super_admin=True,
            credential="an account admin's key or the master key",
            action="read the account's budget",
        )
    ),
]


class BudgetIn(BaseModel):
    account_id: str = Field(min_length=1, max_length=ID_MAX, description="Account id or slug")
    max_budget: float | None = Field(None, ge=0, le=MONEY_MAX, description="USD per period; null removes the budget")
    budget_duration: str | None = Field(
        None, max_length=32, description="30d, 12h, 15m, 45s, 2w or calendar_month; null: never resets"
    )
    timezone: str = Field("UTC", max_length=64, description="IANA zone for calendar_month periods")
    soft_budget: list[Annotated[float, Field(gt=0, le=1000)]] | None = Field(
        None, max_length=20, description="Alert thresholds in percent of max_budget (default 50, 80, 95, 100)"
    )
    overage_amount: float = Field(0.0, ge=0, le=MONEY_MAX, description="USD admitted above max_budget")
    overage_percent: float = Field(0.0, ge=0, le=1000, description="Percent of max_budget admitted above it")
    mode: Literal["block", "alert_only"] = Field("block", description="block refuses; alert_only only alerts")


def _settings_store() -> BudgetSettingsStore:
    store: BudgetSettingsStore | None = runtime.budget_settings
    if store is None:
        raise AtriumError("budgets need a database", hint="set DATABASE_URL")
    return store


async def _account_id(id_or_slug: str) -> str:
    account = await runtime.accounts.get(id_or_slug)  # NotFound with a hint when absent
    account_id: str = account.account_id
    return account_id


async def _view(settings: BudgetSettings | None, account_id: str) -> dict[str, Any]:
    if settings is None or settings.max_budget is None:
        return {"account_id": account_id, "max_budget": None, "budget": settings.public() if settings else None}
    period = settings.period()
    state = await runtime.budgets.ledger.state(account_id, period)
    limit = settings.hard_limit or 0.0
    return {
        "account_id": account_id,
        "max_budget": settings.max_budget,
        "budget": settings.public(),
        "period": {
            "start": period.start.isoformat(),
            "resets_at": period.end.isoformat() if period.resets else None,
            "spend": state.spend,
            "reserved": state.reserved,
            "requests": state.requests,
            "remaining": max(limit - state.spend - state.reserved, 0.0),
        },
    }


def get_budgets_router() -> APIRouter:
    router = APIRouter(
        prefix="/account/budget",
        tags=["Atrium budgets"],
        dependencies=[Depends(require_database)],
        route_class=AtriumRoute,
    )

    @router.get("", summary="The account's budget and the current period's spend")
    async def account_budget_info(
        ctx: BudgetReader,
        account_id: str | None = Query(None, min_length=1, max_length=ID_MAX, description="Super admin: which account"),
    ) -> dict[str, Any]:
        if ctx.account_id is not None:  # an account's own admin (or the super admin acting as it)
            if account_id is not None and await _account_id(account_id) != ctx.account_id:
                raise NotFound("account not found", hint="omit account_id to read your own account's budget")
            target = ctx.account_id
        elif account_id is None:
            raise RequestError("account_id is required", hint="pass ?account_id=<account id or slug>")
        else:
            target = await _account_id(account_id)
        return await _view(await _settings_store().effective(target), target)

    @router.post("", summary="Set or replace an account's budget (super admin)")
    async def account_budget_set(body: BudgetIn, ctx: SuperAdmin) -> dict[str, Any]:
        target = await _account_id(body.account_id)
        settings = BudgetSettings(
            account_id=target,
            max_budget=body.max_budget,
            budget_duration=check_duration(body.budget_duration),
            timezone=check_timezone(body.timezone),
            thresholds=thresholds_of(body.soft_budget),
            overage_amount=body.overage_amount,
            overage_percent=body.overage_percent,
            mode=body.mode,
        )
        stored = await _settings_store().put(settings, by=ctx.user_id or "master_key")
        return await _view(stored, target)

    return router
