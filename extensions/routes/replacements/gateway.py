"""The Usage page's gateway views over the caller's account: ``GET /gateway/daily/activity`` and
``GET /gateway/errors/activity``.

LiteLLM 1.108.7 answers both from its edge counters (``LiteLLM_DailyGatewayRequests``), which have
no account, so it lets only its admin roles read them, proxy-wide. Here the counts are the
account's own (``Atrium_DailyGatewayRequests``, written by ``extensions/observability``: the same
requests LiteLLM counts, Atrium's refusals included), and the errors view's callers (keys, teams,
users, model groups) come from the account's daily roll-ups and ``LiteLLM_DailyRequestErrors``
rows, as LiteLLM's statements with the account first. Same parameters, defaults (last 30 days),
response shapes and role check as LiteLLM's (an account admin or viewer; a member gets LiteLLM's
403); model groups in the account's public form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from extensions import litellm
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.scope import admin_view, in_account, pool
from extensions.routes.replacements.usage.daily import public

__all__ = ["get_gateway_router"]

_LOOKBACK_DAYS: Final = 30
_ENTITY_LIMIT: Final = 25

_EDGE_SQL: Final = f"""
SELECT date, category, route, status_code, SUM(requests)::bigint AS requests
FROM "Atrium_DailyGatewayRequests"
WHERE {in_account()} AND date >= $2 AND date <= $3
GROUP BY date, category, route, status_code
"""

# LiteLLM's caller breakdown (request_error_endpoints._ENTITY_SQL), each read and each join on the
# caller's account ($1).
_ENTITY_SQL: Final = f"""
SELECT * FROM (
    SELECT 'key' AS kind, u.api_key AS id, MAX(v.key_alias) AS label,
        SUM(u.api_requests)::bigint AS api_requests, SUM(u.failed_requests)::bigint AS failed_requests
    FROM "LiteLLM_DailyUserSpend" u
    LEFT JOIN "LiteLLM_VerificationToken" v ON v.token = u.api_key AND {in_account("v")}
    WHERE {in_account("u")} AND u.date >= $2 AND u.date <= $3
    GROUP BY u.api_key HAVING SUM(u.failed_requests) > 0
    ORDER BY failed_requests DESC, id LIMIT {_ENTITY_LIMIT}
) keys
UNION ALL
SELECT * FROM (
    SELECT 'team' AS kind, t.team_id AS id, MAX(tt.team_alias) AS label,
        SUM(t.api_requests)::bigint, SUM(t.failed_requests)::bigint AS failed_requests
    FROM "LiteLLM_DailyTeamSpend" t
    LEFT JOIN "LiteLLM_TeamTable" tt ON tt.team_id = t.team_id AND {in_account("tt")}
    WHERE {in_account("t")} AND t.date >= $2 AND t.date <= $3 AND t.team_id IS NOT NULL AND t.team_id <> ''
    GROUP BY t.team_id HAVING SUM(t.failed_requests) > 0
    ORDER BY failed_requests DESC, id LIMIT {_ENTITY_LIMIT}
) teams
UNION ALL
SELECT * FROM (
    SELECT 'user' AS kind, u.user_id AS id, MAX(ut.user_email) AS label,
        SUM(u.api_requests)::bigint, SUM(u.failed_requests)::bigint AS failed_requests
    FROM "LiteLLM_DailyUserSpend" u
    LEFT JOIN "LiteLLM_UserTable" ut ON ut.user_id = u.user_id AND {in_account("ut")}
    WHERE {in_account("u")} AND u.date >= $2 AND u.date <= $3 AND u.user_id IS NOT NULL AND u.user_id <> ''
    GROUP BY u.user_id HAVING SUM(u.failed_requests) > 0
    ORDER BY failed_requests DESC, id LIMIT {_ENTITY_LIMIT}
) users
UNION ALL
SELECT * FROM (
    SELECT 'model' AS kind, u.model_group AS id, NULL::text AS label,
        SUM(u.api_requests)::bigint, SUM(u.failed_requests)::bigint AS failed_requests
    FROM "LiteLLM_DailyUserSpend" u
    WHERE {in_account("u")} AND u.date >= $2 AND u.date <= $3 AND u.model_group IS NOT NULL AND u.model_group <> ''
    GROUP BY u.model_group HAVING SUM(u.failed_requests) > 0
    ORDER BY failed_requests DESC, id LIMIT {_ENTITY_LIMIT}
) models
"""

_STATUS_COLUMNS: Final = {"key": "api_key", "team": "team_id", "user": "user_id", "model": "model_group"}
# The status each of those callers failed with most (LiteLLM's _ENTITY_STATUS_SQL): one statement,
# the ids of each kind in $4..$7.
_STATUS_SQL: Final = "\nUNION ALL\n".join(
    f"""SELECT * FROM (
    SELECT DISTINCT ON (id) '{kind}' AS kind, id, status_code, failed_requests FROM (
        SELECT {column} AS id, status_code, SUM(failed_requests)::bigint AS failed_requests
        FROM "LiteLLM_DailyRequestErrors"
        WHERE {in_account()} AND date >= $2 AND date <= $3 AND {column} = ANY(${n}::text[])
        GROUP BY {column}, status_code
    ) s ORDER BY id, failed_requests DESC, status_code
) {kind}_status"""
    for n, (kind, column) in enumerate(_STATUS_COLUMNS.items(), start=4)
)


def _window(start_date: str | None, end_date: str | None) -> tuple[str, str]:
    end = datetime.now(UTC)
    default_start, default_end = (end - timedelta(days=_LOOKBACK_DAYS)).strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")
    return start_date or default_start, end_date or default_end


def _only_admins(ctx: AnyTenant, what: str) -> None:
    if not admin_view(ctx):
        raise HTTPException(status_code=403, detail=f"Only proxy admin roles can view {what} across the deployment")


async def _edge_rows(account_id: str | None, start: str, end: str) -> list[Mapping[str, Any]]:
    return [dict(r) for r in await pool().fetch(_EDGE_SQL, account_id, start, end)]


def _split(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    ok = [r for r in rows if litellm.gateway_success(r["status_code"])]
    return ok, [r for r in rows if not litellm.gateway_success(r["status_code"])]


def _total(rows: Iterable[Mapping[str, Any]]) -> int:
    return sum(int(r["requests"]) for r in rows)


def _by_status(failed: Sequence[Mapping[str, Any]]) -> list[dict[str, int]]:
    codes = {r["status_code"] for r in failed}
    entries = [
        {"status_code": code, "failed_requests": _total(r for r in failed if r["status_code"] == code)}
        for code in codes
    ]
    return sorted(entries, key=lambda e: (-e["failed_requests"], e["status_code"]))


def _daily_activity(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    ok, failed = _split(rows)
    dates = sorted({r["date"] for r in rows})
    by_date = [
        {
            "date": d,
            "successful_requests": _total(r for r in ok if r["date"] == d),
            "failed_requests": _total(r for r in failed if r["date"] == d),
        }
        for d in dates
    ]
    pairs = sorted({(r["category"], r["route"]) for r in rows})
    by_route = [
        {
            "category": c,
            "route": route,
            "successful_requests": _total(r for r in ok if (r["category"], r["route"]) == (c, route)),
            "failed_requests": _total(r for r in failed if (r["category"], r["route"]) == (c, route)),
        }
        for c, route in pairs
    ]
    return {
        "total_successful_requests": _total(ok),
        "total_failed_requests": _total(failed),
        "by_date": by_date,
        "by_route": sorted(by_route, key=lambda e: e["successful_requests"], reverse=True),
        "by_status_code": _by_status(failed),
    }


def _errors_by_date(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    ok, failed = _split(rows)
    days = []
    for d in sorted({r["date"] for r in rows}):
        day_failed = [r for r in failed if r["date"] == d]
        days.append(
            {
                "date": d,
                "successful_requests": _total(r for r in ok if r["date"] == d),
                "failed_requests": _total(day_failed),
                "client_errors": _total(r for r in day_failed if 400 <= r["status_code"] <= 499),
                "server_errors": _total(r for r in day_failed if 500 <= r["status_code"] <= 599),
                "by_status_code": _by_status(day_failed),
            }
        )
    return days


async def _callers(account_id: str | None, start: str, end: str) -> dict[str, list[dict[str, Any]]]:
    entities = [dict(r) for r in await pool().fetch(_ENTITY_SQL, account_id, start, end)]
    ids = [[e["id"] for e in entities if e["kind"] == kind] for kind in _STATUS_COLUMNS]
    statuses = {(r["kind"], r["id"]): r for r in await pool().fetch(_STATUS_SQL, account_id, start, end, *ids)}
    found: dict[str, list[dict[str, Any]]] = {}
    for kind in _STATUS_COLUMNS:
        entries = []
        for e in (e for e in entities if e["kind"] == kind):
            top = statuses.get((kind, e["id"]))
            entries.append(
                {
                    "id": e["id"],
                    "label": e["label"],
                    "api_requests": int(e["api_requests"]),
                    "failed_requests": int(e["failed_requests"]),
                    "top_status_code": top["status_code"] if top is not None else None,
                    "top_status_code_requests": int(top["failed_requests"]) if top is not None else 0,
                }
            )
        found[kind] = sorted(entries, key=lambda e: (-e["failed_requests"], e["id"]))
    return found


def get_gateway_router() -> APIRouter:
    router = APIRouter()

    @router.get("/gateway/daily/activity", openapi_extra=serves("gateway_activity"))
    async def gateway_daily_activity(
        ctx: AnyTenant,
        start_date: str | None = Query(default=None),
        end_date: str | None = Query(default=None),
    ) -> Response:
        _only_admins(ctx, "gateway request counts")
        start, end = _window(start_date, end_date)
        return public(ctx.account_id, _daily_activity(await _edge_rows(ctx.account_id, start, end)))

    @router.get("/gateway/errors/activity", openapi_extra=serves("gateway_errors"))
    async def gateway_errors_activity(
        ctx: AnyTenant,
        start_date: str | None = Query(default=None),
        end_date: str | None = Query(default=None),
    ) -> Response:
        _only_admins(ctx, "failed requests")
        start, end = _window(start_date, end_date)
        rows = await _edge_rows(ctx.account_id, start, end)
        ok, failed = _split(rows)
        callers = await _callers(ctx.account_id, start, end)
        body = {
            "total_successful_requests": _total(ok),
            "total_failed_requests": _total(failed),
            "by_date": _errors_by_date(rows),
            "by_status_code": _by_status(failed),
            "by_key": callers["key"],
            "by_team": callers["team"],
            "by_user": callers["user"],
            "by_model": callers["model"],
        }
        return public(ctx.account_id, body)

    return router
