"""``/account/budget/alerts*``: an account admin's budget alert destinations and alert history.

The account is the principal's: an account admin's own, or the one the super admin acts as
(``X-Atrium-Account: <account id or slug>``), as for ``/atrium/sso/config``. The webhook secret
is write-only; the webhook URL is checked against the egress policy when written (and pinned
again on every send).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from extensions.budgets.alert_config import (
    EMAIL_MAX,
    EMAILS_MAX,
    SECRET_MAX,
    SECRET_MIN,
    URL_MAX,
    AlertConfig,
    AlertConfigStore,
)
from extensions.budgets.alerts import alert_history
from extensions.routes.deps import require, require_database
from extensions.routes.errors import AtriumRoute
from extensions.runtime import runtime
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["get_budget_alerts_router"]

HISTORY_MAX = 500

AlertAdmin = Annotated[
    Principal,
    Depends(
        require(
            PrincipalKind.ACCOUNT_ADMIN,
            credential="an account admin's key or UI session",
            action="manage the account's budget alerts",
        )
    ),
]


class AlertConfigIn(BaseModel):
    webhook_url: str | None = Field(
        None, max_length=URL_MAX, description="http(s) URL that receives signed JSON alerts; null: no webhook"
    )
    webhook_secret: str | None = Field(
        None,
        min_length=SECRET_MIN,
        max_length=SECRET_MAX,
        description="Write-only HMAC-SHA256 key for X-Atrium-Signature; kept when omitted and the URL is unchanged",
    )
    emails: list[Annotated[str, Field(max_length=EMAIL_MAX)]] = Field(
        default_factory=list, max_length=EMAILS_MAX, description="Addresses that receive alert mail"
    )
    enabled: bool = True


def _account(ctx: Principal) -> str:
    assert ctx.account_id is not None  # the requirement admits account-scoped principals only
    return ctx.account_id


def _store() -> AlertConfigStore:
    return AlertConfigStore(runtime.require_pool("budget alerts"))


def get_budget_alerts_router() -> APIRouter:
    router = APIRouter(
        prefix="/account/budget/alerts",
        tags=["Atrium budgets"],
        dependencies=[Depends(require_database)],
        route_class=AtriumRoute,
    )

    @router.get("/config", summary="Where the account's budget alerts go (the webhook secret is never returned)")
    async def budget_alerts_config_get(ctx: AlertAdmin) -> dict[str, Any]:
        account_id = _account(ctx)
        config = await _store().get(account_id)
        return config.public() if config is not None else AlertConfig.unset(account_id)

    @router.post("/config", summary="Set the account's budget alert webhook and emails")
    async def budget_alerts_config_set(body: AlertConfigIn, ctx: AlertAdmin) -> dict[str, Any]:
        config = await _store().put(
            _account(ctx),
            webhook_url=body.webhook_url,
            webhook_secret=body.webhook_secret,
            emails=body.emails,
            enabled=body.enabled,
            updated_by=ctx.user_id or ("master_key" if ctx.acting_as else None),
        )
        return config.public()

    @router.get("", summary="The account's budget alerts, newest first, each with its delivery log")
    async def budget_alerts_list(
        ctx: AlertAdmin,
        limit: int = Query(100, ge=1, le=HISTORY_MAX, description="How many alerts"),
    ) -> dict[str, Any]:
        account_id = _account(ctx)
        pool = runtime.require_pool("budget alerts")
        return {"account_id": account_id, "alerts": await alert_history(pool, account_id, limit)}

    return router
