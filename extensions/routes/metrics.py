"""``GET /atrium/metrics``: Prometheus text of LiteLLM's series, scoped to the caller's account.

Account admins (or the super admin with ``X-Atrium-Account``) get their account's series only; the
super admin gets every series, or one account's with ``account_id`` (id or slug). Members and
viewers: 403. LiteLLM's own ``/metrics`` stays closed to tenants (unclassified: default deny).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from extensions.errors import NotFound
from extensions.observability.metrics import CONTENT_TYPE, exposition
from extensions.routes.accounts import ID_MAX
from extensions.routes.deps import require
from extensions.routes.errors import AtriumRoute
from extensions.runtime import runtime
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["get_metrics_router"]

MetricsReader = Annotated[
    Principal,
    Depends(
        require(
            PrincipalKind.ACCOUNT_ADMIN,
            super_admin=True,
            credential="an account admin's key or the master key",
            action="read metrics",
        )
    ),
]


def get_metrics_router() -> APIRouter:
    router = APIRouter(prefix="/atrium", tags=["Atrium observability"], route_class=AtriumRoute)

    @router.get("/metrics", summary="LiteLLM's Prometheus series of the account (text exposition format)")
    async def atrium_metrics(
        ctx: MetricsReader,
        account_id: str | None = Query(None, min_length=1, max_length=ID_MAX, description="Super admin: which account"),
    ) -> Response:
        target = ctx.account_id
        if account_id is not None:
            if runtime.accounts is None:
                raise NotFound("account not found", hint="accounts need a database")
            found = (await runtime.accounts.get(account_id)).account_id
            if target is not None and found != target:
                raise NotFound("account not found", hint="omit account_id to read your own account's metrics")
            target = found
        return Response(exposition(target), media_type=CONTENT_TYPE)

    return router
