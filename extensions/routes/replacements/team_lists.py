"""Team and key lists of the Teams and Keys pages over the caller's account.

- ``GET /team/spend/by_user`` (``get_team_spend_by_user``): spend per member of the requested
  teams, from spend logs. LiteLLM lets a proxy admin name any team id; here only the account's
  teams count (another account's id is refused before this handler by the reference check). A
  member must belong to every team named, and sees only its own row unless it administers (or
  holds ``/team/daily/activity`` on) every one of them.
- ``GET /key/aliases`` (``key_aliases``): the aliases of the account's keys (UI session keys
  excluded), paged and searchable; a member's are those of its own keys and its teams' keys.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from extensions import litellm
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.scope import admin_view, in_account, log_team_ids, pool
from extensions.tenancy.request.context import Principal

__all__ = ["get_team_lists_router"]


def _daily_error(status: int, message: str) -> HTTPException:
    # LiteLLM's _daily_activity_error: {"detail": {"error": message}}.
    return HTTPException(status_code=status, detail={"error": message})


async def _member_scope(ctx: Principal, requested: list[str], teams: dict[str, Any]) -> bool:
    """For a non-admin: refuse teams it is not in (LiteLLM's 404s); True when it sees only its own row."""
    user = await pool().fetchrow(
        f'SELECT teams FROM "LiteLLM_UserTable" WHERE {in_account()} AND user_id = $2', ctx.account_id, ctx.user_id
    )
    if user is None:
        raise _daily_error(404, f"User= {ctx.user_id} not found")
    for team_id in requested:
        if team_id not in (user["teams"] or []):
            raise _daily_error(404, f"User does not belong to Team= {team_id}. Call `/user/info` to see user's teams")
    full_view = set(await log_team_ids(ctx, "/team/daily/activity"))
    return bool(teams) and not set(teams) <= full_view


async def _team_spend(ctx: Principal, team_ids: str | None, start_date: str | None, end_date: str | None) -> Any:
    range_error = litellm.date_range_error(start_date, end_date)
    if range_error is not None or start_date is None or end_date is None:
        raise _daily_error(400, range_error or "Please provide start_date and end_date")
    if not team_ids:
        raise _daily_error(400, "Please provide team_ids")
    requested = team_ids.split(",")
    rows = await pool().fetch(
        f'SELECT team_id, team_alias FROM "LiteLLM_TeamTable" WHERE {in_account()} AND team_id = ANY($2::text[])',
        ctx.account_id,
        requested,
    )
    teams = {row["team_id"]: row["team_alias"] for row in rows}
    own_only = False if admin_view(ctx) else await _member_scope(ctx, requested, teams)
    empty = {"start_date": start_date, "end_date": end_date, "results": []}
    scoped = [team_id for team_id in requested if team_id in teams]
    if not scoped:
        return empty
    args: list[Any] = [
        ctx.account_id,
        datetime.combine(date.fromisoformat(start_date), datetime.min.time()),
        datetime.combine(date.fromisoformat(end_date), datetime.min.time()),
        scoped,
    ]
    user_clause = ""
    if own_only:
        args.append(ctx.user_id or "")
        user_clause = ' AND sl."user" = $5'
    records = await pool().fetch(
        'SELECT sl.team_id, sl."user" AS user_id, u.user_email, u.user_alias, SUM(sl.spend)::float AS spend, '
        "SUM(sl.prompt_tokens)::bigint AS prompt_tokens, SUM(sl.completion_tokens)::bigint AS completion_tokens, "
        "SUM(sl.total_tokens)::bigint AS total_tokens, COUNT(*)::bigint AS api_requests, "
        "COUNT(*) FILTER (WHERE sl.status IS DISTINCT FROM 'failure')::bigint AS successful_requests, "
        "COUNT(*) FILTER (WHERE sl.status = 'failure')::bigint AS failed_requests "
        'FROM "LiteLLM_SpendLogs" sl LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = sl."user" '
        "AND u.account_id IS NOT DISTINCT FROM $1 "
        f'WHERE {in_account("sl")} AND sl."startTime" >= $2::timestamp '
        "AND sl.\"startTime\" < $3::timestamp + INTERVAL '1 day' "
        f"AND sl.team_id = ANY($4::text[]){user_clause} "
        'GROUP BY sl.team_id, sl."user", u.user_email, u.user_alias ORDER BY spend DESC, sl.team_id, sl."user"',
        *args,
    )
    results = [
        {
            "team_id": r["team_id"],
            "team_alias": teams.get(r["team_id"]),
            "user_id": r["user_id"] or "",
            **{k: r[k] for k in ("user_email", "user_alias", "spend", "prompt_tokens", "completion_tokens")},
            **{k: r[k] for k in ("total_tokens", "api_requests", "successful_requests", "failed_requests")},
        }
        for r in records
    ]
    return {**empty, "results": results}


async def _key_aliases(ctx: Principal, page: int, size: int, search: str | None, team_id: str | None) -> Any:
    args: list[Any] = [ctx.account_id, litellm.UI_SESSION_TEAM]
    where = [in_account(), "key_alias IS NOT NULL", "key_alias != ''", "(team_id IS NULL OR team_id != $2)"]
    if not admin_view(ctx):
        # LiteLLM's _apply_non_admin_alias_scope: the caller's own keys and its teams' keys.
        scope: list[str] = []
        if ctx.user_id is not None:
            args.append(ctx.user_id)
            scope.append(f"user_id = ${len(args)}")
            teams = await pool().fetchval(
                f'SELECT teams FROM "LiteLLM_UserTable" WHERE {in_account()} AND user_id = $2',
                ctx.account_id,
                ctx.user_id,
            )
            if teams:
                args.append(list(teams))
                scope.append(f"team_id = ANY(${len(args)}::text[])")
        where.append(f"({' OR '.join(scope)})" if scope else "FALSE")
    if search:
        args.append(f"%{search}%")
        where.append(f"key_alias ILIKE ${len(args)}")
    if team_id:
        args.append(team_id)
        where.append(f"team_id = ${len(args)}")
    sql = " AND ".join(where)
    total = int(await pool().fetchval(f'SELECT COUNT(*) FROM "LiteLLM_VerificationToken" WHERE {sql}', *args))
    rows = await pool().fetch(
        f'SELECT key_alias FROM "LiteLLM_VerificationToken" WHERE {sql} ORDER BY key_alias ASC '
        f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args,
        size,
        (page - 1) * size,
    )
    return {
        "aliases": [row["key_alias"] for row in rows if row["key_alias"]],
        "total_count": total,
        "current_page": page,
        "total_pages": -(-total // size) if total > 0 else 0,
        "size": size,
    }


def get_team_lists_router() -> APIRouter:
    router = APIRouter()

    @router.get("/team/spend/by_user", openapi_extra=serves("team_spend_by_user"))
    async def team_spend_by_user(
        ctx: AnyTenant, team_ids: str | None = None, start_date: str | None = None, end_date: str | None = None
    ) -> Any:
        return await _team_spend(ctx, team_ids, start_date, end_date)

    @router.get("/key/aliases", openapi_extra=serves("key_aliases"))
    async def key_aliases(
        ctx: AnyTenant,
        page: int = Query(1, ge=1),
        size: int = Query(50, ge=1, le=100),
        search: str | None = None,
        team_id: str | None = None,
    ) -> Any:
        return await _key_aliases(ctx, page, size, search, team_id)

    return router
