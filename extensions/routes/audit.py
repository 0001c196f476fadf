"""``GET /atrium/audit`` and ``/atrium/audit/export``: an account's audit log.

An account admin (or the super admin with ``X-Atrium-Account``) reads its own account only; the
super admin reads one account (``account_id``) or every account. The same filters serve the
paged JSON list and the streamed CSV / JSONL export.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from extensions.audit.reader import CSV_COLUMNS, MAX_LIMIT, Filters, csv_line, page, pages, public
from extensions.errors import AtriumError, NotFound
from extensions.routes.accounts import ID_MAX
from extensions.routes.deps import require, require_database
from extensions.routes.errors import AtriumRoute
from extensions.runtime import runtime
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["get_audit_router"]

AuditReader = Annotated[
    Principal,
    Depends(
        require(
            PrincipalKind.ACCOUNT_ADMIN,
            super_admin=True,
            credential="an account admin's key or the master key",
            action="read the audit log",
        )
    ),
]


async def _filters(
    ctx: AuditReader,
    account_id: str | None = Query(None, min_length=1, max_length=ID_MAX, description="Super admin: which account"),
    actor: str | None = Query(None, max_length=256, description="User id, email, key alias or key hash prefix"),
    object_type: str | None = Query(None, max_length=64, description="key, team, user, model, credential, ..."),
    object_id: str | None = Query(None, max_length=256, description="An object id (keys: hash prefix)"),
    action: str | None = Query(None, max_length=128, description="e.g. key.generate, team.update"),
    since: Annotated[datetime | None, Query(description="From this time (ISO 8601, inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="Until this time (ISO 8601, exclusive)")] = None,
) -> Filters:
    if ctx.account_id is not None:  # an account admin, or the super admin acting as the account
        if account_id is not None and await _account(account_id) != ctx.account_id:
            raise NotFound("account not found", hint="omit account_id to read your own account's log")
        target: str | None = ctx.account_id
    else:
        target = await _account(account_id) if account_id is not None else None
    return Filters(target, actor, object_type, object_id, action, since, until)


async def _account(id_or_slug: str) -> str:
    if id_or_slug == "-":  # the chain of global actions
        return ""
    account = await runtime.accounts.get(id_or_slug)
    found: str = account.account_id
    return found


def _pool() -> Any:
    if runtime.pool is None:
        raise AtriumError("the audit log needs a database", hint="set DATABASE_URL")
    return runtime.pool


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value


async def _export(filters: Filters, fmt: str) -> AsyncIterator[str]:
    if fmt == "csv":
        yield csv_line(list(CSV_COLUMNS))
    async for row in pages(_pool(), filters):
        entry = public(row)
        if fmt == "csv":
            yield csv_line(
                [json.dumps(entry[c]) if isinstance(entry[c], (dict, list)) else entry[c] for c in CSV_COLUMNS]
            )
        else:
            yield json.dumps(entry) + "\n"


def get_audit_router() -> APIRouter:
    router = APIRouter(
        prefix="/atrium/audit",
        tags=["Atrium audit"],
        dependencies=[Depends(require_database)],
        route_class=AtriumRoute,
    )

    @router.get("", summary="Audit log entries, newest first (cursor paginated)")
    async def audit_list(
        filters: Annotated[Filters, Depends(_filters)],
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        cursor: str | None = Query(None, max_length=512, description="next_cursor of the previous page"),
    ) -> dict[str, Any]:
        async with _pool().acquire() as conn:
            rows, next_cursor = await page(conn, filters, limit, cursor)
        return {"entries": [public(row) for row in rows], "next_cursor": next_cursor}

    @router.get("/export", summary="Every matching entry, streamed as CSV or JSON lines")
    async def audit_export(
        filters: Annotated[Filters, Depends(_filters)],
        format: Literal["csv", "jsonl"] = Query("jsonl"),
    ) -> StreamingResponse:
        media = "text/csv" if format == "csv" else "application/x-ndjson"
        return StreamingResponse(
            _export(filters, format),
            media_type=media,
            headers={"content-disposition": f'attachment; filename="audit.{format}"'},
        )

    return router
