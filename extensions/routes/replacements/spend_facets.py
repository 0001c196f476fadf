"""The Logs page's filter options over the caller's account: ``/management/v1/spend_logs/{users,end_users}``.

LiteLLM's ``_list_spend_log_facet``: the distinct users (or end users) of the newest 10,000
spend-log rows in a time window, searched, paged with ``has_more``, in its list envelope and its
RFC 9457 problems. The rows are the account's; a member's are those LiteLLM shows a non-admin
(its own requests and the teams it administers or holds ``/spend/logs`` on). An account's end
users are stored as ``<account_id>/<id>`` and are listed and searched by their own id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from extensions import litellm
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.litellm_errors import ProblemAnswer
from extensions.routes.replacements.scope import admin_view, in_account, log_team_ids, pool
from extensions.tenancy.request.context import Principal

__all__ = ["get_spend_facets_router"]

SCAN_CAP = 10000  # LiteLLM's SPEND_LOGS_FACET_SCAN_CAP
_START, _END = "filter[startTime][gte]", "filter[startTime][lte]"
_PARAMS = (_START, _END, "q", "page", "page_size")


async def _reject_unknown(request: Request) -> None:
    # LiteLLM's reject_unknown_query_params: a silently ignored filter would over-return.
    unknown = sorted(name for name in request.query_params if name not in _PARAMS)
    if unknown:
        raise ProblemAnswer(litellm.unknown_query_problem(unknown, sorted(_PARAMS)))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _facet(
    request: Request,
    ctx: Principal,
    column: Literal["user", "end_user"],
    window: tuple[datetime, datetime],
    q: str | None,
    page: int,
    page_size: int,
) -> JSONResponse:
    raw = 's."user"' if column == "user" else "s.end_user"
    # The account's end users without the "<account_id>/" their rows carry.
    shown = (
        raw
        if column == "user"
        else f"(CASE WHEN left({raw}, length($1) + 1) = $1 || '/' THEN substr({raw}, length($1) + 2) ELSE {raw} END)"
    )
    args: list[object] = [ctx.account_id, _utc(window[0]), _utc(window[1])]
    where = [
        in_account("s"),
        "s.\"startTime\" >= ($2::timestamptz AT TIME ZONE 'UTC')",
        "s.\"startTime\" <= ($3::timestamptz AT TIME ZONE 'UTC')",
        f"{raw} IS NOT NULL",
        f"{raw} != ''",
    ]
    if q:
        args.append(f"%{_escape_like(q)}%")
        where.append(f"{shown} ILIKE ${len(args)} ESCAPE '\\'")
    if not admin_view(ctx):
        teams = await log_team_ids(ctx, "/spend/logs")
        if ctx.user_id is None:
            where.append("FALSE")
        else:
            args += [ctx.user_id, list(teams)]
            where.append(f'(s."user" = ${len(args) - 1} OR s.team_id = ANY(${len(args)}::text[]))')
    args += [SCAN_CAP, page_size + 1, (page - 1) * page_size]
    n = len(args)
    rows = await pool().fetch(
        f'SELECT DISTINCT v FROM (SELECT {shown} AS v FROM "LiteLLM_SpendLogs" s WHERE {" AND ".join(where)} '
        f'ORDER BY s."startTime" DESC, s.request_id DESC LIMIT ${n - 2}) recent '
        f"ORDER BY v ASC LIMIT ${n - 1} OFFSET ${n}",
        *args,
    )
    values = [row["v"] for row in rows if row["v"]]
    return JSONResponse(litellm.facet_page(request, values, page=page, page_size=page_size))


def get_spend_facets_router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/management/v1/spend_logs/users",
        openapi_extra=serves("spend_log_filters"),
        dependencies=[Depends(_reject_unknown)],
    )
    async def spend_log_users(
        request: Request,
        ctx: AnyTenant,
        start_time: Annotated[datetime, Query(alias=_START)],
        end_time: Annotated[datetime, Query(alias=_END)],
        q: str | None = None,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> JSONResponse:
        return await _facet(request, ctx, "user", (start_time, end_time), q, page, page_size)

    @router.get(
        "/management/v1/spend_logs/end_users",
        openapi_extra=serves("spend_log_filters"),
        dependencies=[Depends(_reject_unknown)],
    )
    async def spend_log_end_users(
        request: Request,
        ctx: AnyTenant,
        start_time: Annotated[datetime, Query(alias=_START)],
        end_time: Annotated[datetime, Query(alias=_END)],
        q: str | None = None,
        page: Annotated[int, Query(ge=1)] = 1,
        page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> JSONResponse:
        return await _facet(request, ctx, "end_user", (start_time, end_time), q, page, page_size)

    return router
