"""Spend logs of the caller's account: the tenant-scoped ``/spend/logs/ui`` family and ``/spend/logs``.

Same parameters and response shape as LiteLLM's handlers (``{data, total, page,
page_size, total_pages}``; the legacy ``/spend/logs`` list or its daily summary), read with
asyncpg and always filtered by ``account_id``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from extensions.errors import NotFound, RequestError
from extensions.models.presentation import unprefixed
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.legacy_spend import legacy_spend_logs
from extensions.runtime import runtime
from extensions.tenancy.request.context import current_principal

__all__ = ["get_spend_logs_router"]

_SORTABLE = {
    "spend": '"spend"',
    "total_tokens": '"total_tokens"',
    "startTime": '"startTime"',
    "endTime": '"endTime"',
    "model": '"model"',
    "request_duration_ms": '("endTime" - "startTime")',
}


def _pool() -> Any:
    return runtime.require_pool("spend logs")


def _timestamp(value: str | None, name: str) -> datetime | None:
    """A date filter as asyncpg needs it: a datetime, not text (a string there failed as a 500)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise RequestError(f"Invalid {name}: {value!r}", hint="use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS") from exc
    # startTime is stored without a zone, in UTC.
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _row(record: Any) -> dict[str, Any]:
    # The account's models are logged under their router group <account_id>/<name>.
    row: dict[str, Any] = unprefixed(current_principal().account_id, json.loads(record["row"]))
    return row


class _Where:
    def __init__(self, account_id: str | None) -> None:
        self.clauses = ["s.account_id IS NOT DISTINCT FROM $1"]
        self.args: list[Any] = [account_id]

    def add(self, clause: str, value: Any) -> None:
        if value is None or value == "":
            return
        self.args.append(value)
        self.clauses.append(clause.replace("?", f"${len(self.args)}"))

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)


def get_spend_logs_router() -> APIRouter:
    router = APIRouter()

    async def _list(
        *,
        api_key: str | None,
        user_id: str | None,
        request_id: str | None,
        session_id: str | None,
        team_id: str | None,
        min_spend: float | None,
        max_spend: float | None,
        start_date: str | None,
        end_date: str | None,
        page: int,
        page_size: int,
        status_filter: str | None,
        model: str | None,
        key_alias: str | None,
        end_user: str | None,
        sort_by: str,
        sort_order: str | None,
    ) -> dict[str, Any]:
        if sort_by not in _SORTABLE:
            raise RequestError(f"Invalid sort_by: {sort_by}", hint=f"use one of {', '.join(sorted(_SORTABLE))}")
        order = (sort_order or "desc").lower()
        if order not in ("asc", "desc"):
            raise RequestError(f"Invalid sort_order: {sort_order}", hint="use asc or desc")
        where = _Where(current_principal().account_id)
        where.add("s.api_key = ?", api_key)
        where.add('s."user" = ?', user_id)
        where.add("s.request_id = ?", request_id)
        where.add("s.session_id = ?", session_id)
        where.add("s.team_id = ?", team_id)
        where.add("s.spend >= ?", min_spend)
        where.add("s.spend <= ?", max_spend)
        where.add('s."startTime" >= ?', _timestamp(start_date, "start_date"))
        where.add('s."startTime" <= ?', _timestamp(end_date, "end_date"))
        where.add("s.status = ?", status_filter)
        where.add("(s.model = ? OR s.model_group = ? OR s.model_group = $1 || '/' || ?)", model)
        where.add("s.end_user = ?", end_user)
        where.add(
            'EXISTS (SELECT 1 FROM "LiteLLM_VerificationToken" v WHERE v.token = s.api_key '
            "AND v.account_id IS NOT DISTINCT FROM $1 AND v.key_alias = ?)",
            key_alias,
        )
        pool = _pool()
        total = await pool.fetchval(f'SELECT count(*) FROM "LiteLLM_SpendLogs" s WHERE {where.sql}', *where.args)
        rows = await pool.fetch(
            f'SELECT to_jsonb(s)::text AS row FROM "LiteLLM_SpendLogs" s WHERE {where.sql} '
            f"ORDER BY {_SORTABLE[sort_by]} {order} LIMIT {page_size} OFFSET {(page - 1) * page_size}",
            *where.args,
        )
        return {
            "data": [_row(r) for r in rows],
            "total": total,
            "page": page,
            "page_size": page_size,
            "total_pages": math.ceil(total / page_size) if total else 0,
        }

    @router.get("/spend/logs/ui", openapi_extra=serves("spend_logs_ui"))
    @router.get("/spend/logs/v2", openapi_extra=serves("spend_logs_ui"))
    async def spend_logs_ui(
        api_key: str | None = None,
        user_id: str | None = None,
        request_id: str | None = None,
        session_id: str | None = None,
        team_id: str | None = None,
        min_spend: float | None = None,
        max_spend: float | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        page: int = Query(1, ge=1),
        page_size: int = Query(50, ge=1, le=1000),
        status_filter: str | None = None,
        model: str | None = None,
        key_alias: str | None = None,
        end_user: str | None = None,
        sort_by: str = "startTime",
        sort_order: str | None = "desc",
    ) -> dict[str, Any]:
        return await _list(
            api_key=api_key, user_id=user_id, request_id=request_id, session_id=session_id, team_id=team_id,
            min_spend=min_spend, max_spend=max_spend, start_date=start_date, end_date=end_date, page=page,
            page_size=page_size, status_filter=status_filter, model=model, key_alias=key_alias, end_user=end_user,
            sort_by=sort_by, sort_order=sort_order,
        )  # fmt: skip

    @router.get("/spend/logs/session/ui", openapi_extra=serves("spend_logs_ui"))
    async def spend_logs_session(
        session_id: str,
        page: int = Query(1, ge=1),
        page_size: int = Query(50, ge=1, le=1000),
    ) -> dict[str, Any]:
        return await _list(
            api_key=None, user_id=None, request_id=None, session_id=session_id, team_id=None, min_spend=None,
            max_spend=None, start_date=None, end_date=None, page=page, page_size=page_size, status_filter=None,
            model=None, key_alias=None, end_user=None, sort_by="startTime", sort_order="asc",
        )  # fmt: skip

    @router.get("/spend/logs/ui/{request_id}", openapi_extra=serves("spend_logs_ui"))
    async def spend_log_detail(request_id: str) -> dict[str, Any]:
        record = await _pool().fetchrow(
            'SELECT to_jsonb(s)::text AS row FROM "LiteLLM_SpendLogs" s '
            "WHERE s.request_id = $2 AND s.account_id IS NOT DISTINCT FROM $1",
            current_principal().account_id,
            request_id,
        )
        if record is None:
            raise NotFound(f"no spend log {request_id}", hint="request ids come from /spend/logs/ui")
        return _row(record)

    @router.get("/spend/logs", openapi_extra=serves("spend_logs"))
    async def spend_logs(
        request: Request,
        api_key: str | None = None,
        user_id: str | None = None,
        request_id: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        summarize: bool = True,
    ) -> Response:
        body, truncated = await legacy_spend_logs(
            current_principal(),
            api_key=api_key,
            user_id=user_id,
            request_id=request_id,
            start_date=start_date,
            end_date=end_date,
            summarize=summarize,
        )
        response = JSONResponse(body)
        if truncated:
            response.headers["x-litellm-spend-logs-truncated"] = "true"
        return response

    return router
