"""The Usage page's user-agent tab over the account's tag spend: ``/tag/summary``, ``/tag/distinct``,
``/tag/dau``, ``/tag/wau``, ``/tag/mau``.

LiteLLM 1.108.7 (``user_agent_analytics_endpoints.py``) answers these from every account's
``LiteLLM_DailyTagSpend`` joined with ``LiteLLM_VerificationToken``, to any caller. Here both tables
are read for the caller's account only, and a non-admin (who, on the tag daily-activity routes,
sees only their own keys' rows) sees only their own keys' tags here too: stricter than LiteLLM, so
the tab and the tag routes agree. Same parameters, statements and response shapes otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from extensions import litellm
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.usage import access, lookups
from extensions.routes.replacements.usage.daily import public
from extensions.routes.replacements.usage.errors import LiteLLMFormRoute
from extensions.routes.replacements.usage.sql import Params
from extensions.tenancy.request.context import Principal, current_principal

__all__ = ["get_tag_analytics_router"]


async def _own_keys(principal: Principal) -> list[str] | None:
    """None for an admin (the whole account), else the caller's own keys."""
    if access.admin_view(principal):
        return None
    return list(await lookups.own_keys(principal.account_id, principal.user_id, principal.token_hash))


def _owned(principal: Principal, p: Params, alias: str) -> str:
    account = principal.account_id
    return f"{alias}.account_id IS NULL" if account is None else f"{alias}.account_id = {p(account)}"


async def _where(principal: Principal, p: Params, start: str, end: str) -> str:
    conditions = [_owned(principal, p, "dts"), f"dts.date >= {p(start)}", f"dts.date <= {p(end)}"]
    keys = await _own_keys(principal)
    if keys is not None:
        conditions.append(f"dts.api_key = ANY({p(keys)}::text[])")
    return " AND ".join(conditions)


def _tag_condition(p: Params, tag_filter: str | None, tag_filters: list[str] | None) -> str:
    if tag_filters:
        return " AND (" + " OR ".join(f"dts.tag = {p(tag)}" for tag in tag_filters) + ")"
    if tag_filter:
        return f" AND dts.tag ILIKE {p(f'%{tag_filter}%')}"
    return ""


def _token_join(principal: Principal, p: Params) -> str:
    own = _owned(principal, p, "vt")
    return f'JOIN "LiteLLM_VerificationToken" vt ON dts.api_key = vt.token AND {own}'


def _end_of_today() -> datetime:
    """LiteLLM's window end: UTC today + 1 day."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


async def _active_users(
    principal: Principal, tag_filter: str | None, tag_filters: list[str] | None, *, period: int, periods: int
) -> list[dict[str, Any]]:
    """Distinct key owners per tag and period (1: days, 7: weeks, 30: months), newest window last."""
    end_dt = _end_of_today()
    end = end_dt.strftime("%Y-%m-%d")
    start = (end_dt - timedelta(days=periods if period == 1 else periods * period - 1)).strftime("%Y-%m-%d")
    p = Params()
    condition = await _where(principal, p, start, end) + " AND vt.user_id IS NOT NULL"
    condition += _tag_condition(p, tag_filter, tag_filters)
    join = _token_join(principal, p)
    if period == 1:
        rows = await lookups.pool().fetch(
            f"""SELECT dts.tag, dts.date, COUNT(DISTINCT vt.user_id) AS active_users
            FROM "LiteLLM_DailyTagSpend" dts INNER {join}
            WHERE {condition}
            GROUP BY dts.tag, dts.date ORDER BY dts.date DESC, active_users DESC""",
            *p.values,
        )
        return [
            {"tag": r["tag"], "active_users": r["active_users"], "date": r["date"], "period_start": None,
             "period_end": None}
            for r in rows
        ]  # fmt: skip
    label, span, format_ = ("Week", 6, "Mon DD") if period == 7 else ("Month", 29, "Mon")
    # A date, not its text: asyncpg binds `$n::date` as a date parameter.
    end_param, period_param, periods_param = p(end_dt.date()), p(period), p(periods)
    rows = await lookups.pool().fetch(
        f"""WITH data AS (
            SELECT dts.tag, vt.user_id,
                FLOOR(({end_param}::date - dts.date::date) / {period_param}::int) AS offset_
            FROM "LiteLLM_DailyTagSpend" dts INNER {join}
            WHERE {condition}
        )
        SELECT tag, COUNT(DISTINCT user_id) AS active_users,
            '{label} ' || ({periods_param}::int - offset_)::text || ' (' ||
            TO_CHAR({end_param}::date - (offset_ * {period_param}::int || ' days')::interval
                    - '{span} days'::interval, '{format_}') || ')' AS date,
            ({end_param}::date - (offset_ * {period_param}::int || ' days')::interval
                    - '{span} days'::interval)::text AS period_start,
            ({end_param}::date - (offset_ * {period_param}::int || ' days')::interval)::text AS period_end
        FROM data WHERE offset_ < {periods_param}::int
        GROUP BY tag, offset_ ORDER BY offset_ DESC, active_users DESC""",
        *p.values,
    )
    return [dict(r) for r in rows]


def get_tag_analytics_router() -> APIRouter:
    router = APIRouter(route_class=LiteLLMFormRoute)
    summary_extra, users_extra = serves("tag_summary"), serves("tag_active_users")

    @router.get("/tag/summary", openapi_extra=summary_extra)
    async def tag_summary(
        start_date: str,
        end_date: str,
        tag_filter: str | None = None,
        tag_filters: Annotated[list[str] | None, Query()] = None,
    ) -> Response:
        for value in (start_date, end_date):
            try:
                datetime.strptime(value, "%Y-%m-%d")
            except ValueError as exc:
                raise HTTPException(status_code=400, detail=f"Invalid date format. Use YYYY-MM-DD: {exc}") from exc
        principal = current_principal()
        p = Params()
        condition = await _where(principal, p, start_date, end_date) + _tag_condition(p, tag_filter, tag_filters)
        own = _owned(principal, p, "vt")
        rows = await lookups.pool().fetch(
            f"""SELECT dts.tag, COUNT(DISTINCT vt.user_id) AS unique_users,
                SUM(dts.api_requests) AS total_requests, SUM(dts.successful_requests) AS successful_requests,
                SUM(dts.failed_requests) AS failed_requests,
                SUM(dts.prompt_tokens + dts.completion_tokens) AS total_tokens, SUM(dts.spend) AS total_spend
            FROM "LiteLLM_DailyTagSpend" dts
            LEFT JOIN "LiteLLM_VerificationToken" vt ON dts.api_key = vt.token AND {own}
            WHERE {condition}
            GROUP BY dts.tag ORDER BY total_requests DESC""",
            *p.values,
        )
        results = [
            {
                "tag": r["tag"],
                "unique_users": r["unique_users"] or 0,
                "total_requests": int(r["total_requests"] or 0),
                "successful_requests": int(r["successful_requests"] or 0),
                "failed_requests": int(r["failed_requests"] or 0),
                "total_tokens": int(r["total_tokens"] or 0),
                "total_spend": float(r["total_spend"] or 0.0),
            }
            for r in rows
            if r["tag"] is not None
        ]
        return public(principal.account_id, {"results": results})

    @router.get("/tag/distinct", openapi_extra=users_extra)
    async def distinct_tags() -> Response:
        principal = current_principal()
        p = Params()
        own = _owned(principal, p, "dts")
        keys = await _own_keys(principal)
        mine = f" AND dts.api_key = ANY({p(keys)}::text[])" if keys is not None else ""
        rows = await lookups.pool().fetch(
            f"""SELECT dts.tag, COUNT(*) AS usage_count FROM "LiteLLM_DailyTagSpend" dts
            WHERE {own}{mine} AND (dts.tag LIKE 'User-Agent:%' OR dts.tag NOT LIKE '%:%')
            GROUP BY dts.tag ORDER BY usage_count DESC LIMIT {p(litellm.TAG_ANALYTICS_MAX_TAGS)}""",
            *p.values,
        )
        return public(principal.account_id, {"results": [{"tag": r["tag"]} for r in rows]})

    for path, period, periods in (
        ("/tag/dau", 1, litellm.TAG_ANALYTICS_MAX_DAYS),
        ("/tag/wau", 7, litellm.TAG_ANALYTICS_MAX_WEEKS),
        ("/tag/mau", 30, litellm.TAG_ANALYTICS_MAX_MONTHS),
    ):
        _register_active_users(router, path, period, periods)
    return router


def _register_active_users(router: APIRouter, path: str, period: int, periods: int) -> None:
    async def active_users(
        tag_filter: str | None = None,
        tag_filters: Annotated[list[str] | None, Query()] = None,
    ) -> Response:
        principal = current_principal()
        results = await _active_users(principal, tag_filter, tag_filters, period=period, periods=periods)
        return public(principal.account_id, {"results": results})

    router.add_api_route(path, active_users, methods=["GET"], openapi_extra=serves("tag_active_users"))
