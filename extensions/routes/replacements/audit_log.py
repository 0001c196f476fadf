"""The admin UI's audit-log page (``GET /audit``, ``GET /audit/{id}``) over Atrium's audit log.

LiteLLM's handlers read ``LiteLLM_AuditLog``, which LiteLLM fills only under its enterprise
licence, and page over every account's rows. Here a tenant admin reads its own account's chain
of Atrium's audit log (``docs/audit.md``) in LiteLLM's response shape (``AuditLogResponse``,
``PaginatedAuditLogResponse``) with LiteLLM's parameters: ``page``, ``page_size`` (1..100),
``changed_by``, ``changed_by_api_key``, ``action``, ``table_name``, ``object_id``,
``object_team_id``, ``object_key_hash``, ``search``, ``start_date``, ``end_date``, ``sort_by``,
``sort_order``. Nothing of LiteLLM's licence is touched: the UI itself still shows the page
only when LiteLLM says the proxy is licensed.

An entry maps onto LiteLLM's fields as: ``changed_by`` the actor (user id, email, key alias or
kind), ``changed_by_api_key`` the key's hash prefix, ``action`` LiteLLM's verb where one applies
(``created``, ``updated``, ``deleted``, ``rotated``) else Atrium's action (``team.member_add``,
``signin.sso``), ``table_name`` LiteLLM's table for keys, teams, users and models else the object
type, ``before_value`` / ``updated_values`` the two sides of ``changes``. Account admins only
(a member, viewer or global key: 403, as LiteLLM refuses non-admins).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from extensions.audit.entries import key_ref
from extensions.audit.reader import Filters, by_id, numbered_page
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.litellm_errors import LiteLLMError, proxy_error
from extensions.routes.replacements.scope import pool
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["get_audit_log_router"]

_TABLES: Final = {
    "key": "LiteLLM_VerificationToken",
    "team": "LiteLLM_TeamTable",
    "user": "LiteLLM_UserTable",
    "model": "LiteLLM_ProxyModelTable",
    "organization": "LiteLLM_OrganizationTable",
}
_OBJECT_TYPES: Final = {table: object_type for object_type, table in _TABLES.items()}
# LiteLLM's action -> the verbs of Atrium's actions it stands for.
_VERBS: Final = {
    "created": ("new", "generate", "create"),
    "updated": ("update",),
    "deleted": ("delete",),
    "rotated": ("regenerate",),
}
_ACTIONS: Final = {verb: action for action, verbs in _VERBS.items() for verb in verbs}
_HASH_CHARS: Final = 64


def _admin(ctx: Principal) -> str:
    """The caller's account; LiteLLM's 403 for anyone but its admins."""
    if ctx.kind is not PrincipalKind.ACCOUNT_ADMIN or ctx.account_id is None:
        raise proxy_error(403, "Only account admins can read the audit log.")
    return ctx.account_id


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise proxy_error(400, f"{name} is not an ISO 8601 date or time", param=name) from exc


def _object_ref(value: str | None) -> str | None:
    """An object id as the log names it: a key's hash (or ``sk-`` value) by its prefix."""
    if not value:
        return None
    if value.startswith("sk-") or (len(value) == _HASH_CHARS and all(c in "0123456789abcdef" for c in value)):
        return key_ref(value)
    return value


def _litellm_action(action: str) -> str:
    return _ACTIONS.get(action.partition(".")[2], action)


def _sides(changes: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``{field: [before, after]}`` as LiteLLM's before_value / updated_values; other shapes (a
    refusal's request, a sign-in's reason) are shown as the updated values."""
    if not isinstance(changes, dict) or not changes:
        return None, None
    if all(isinstance(v, list) and len(v) == 2 for v in changes.values()):
        before = {k: v[0] for k, v in changes.items() if v[0] is not None}
        after = {k: v[1] for k, v in changes.items() if v[1] is not None}
        return before or None, after or None
    return None, changes


def litellm_entry(row: Any) -> dict[str, Any]:
    actor = json.loads(row["actor"])
    object_ids = json.loads(row["object_ids"])
    before, after = _sides(json.loads(row["changes"]))
    changed_by = actor.get("user_id") or actor.get("email") or actor.get("key_alias") or actor.get("kind") or ""
    return {
        "id": row["id"],
        "updated_at": row["time"].isoformat() + "Z",
        "changed_by": str(changed_by),
        "changed_by_api_key": actor.get("key_hash_prefix") or "",
        "action": _litellm_action(row["action"]),
        "table_name": _TABLES.get(row["object_type"], row["object_type"]),
        "object_id": ",".join(str(i) for i in object_ids),
        "before_value": before,
        "updated_values": after,
        # Atrium's own fields; the UI reads only LiteLLM's.
        "outcome": row["outcome"],
        "status_code": row["status_code"],
        "route": f"{row['method']} {row['route']}",
    }


def get_audit_log_router() -> APIRouter:
    router = APIRouter()

    @router.get("/audit", openapi_extra=serves("audit_log"))
    async def audit_list(
        ctx: AnyTenant,
        page: int = Query(1, ge=1),
        page_size: int = Query(10, ge=1, le=100),
        changed_by: str | None = Query(None, max_length=320),
        changed_by_api_key: str | None = Query(None, max_length=128),
        action: str | None = Query(None, max_length=128),
        table_name: str | None = Query(None, max_length=128),
        object_id: str | None = Query(None, max_length=256),
        start_date: str | None = Query(None, max_length=64),
        end_date: str | None = Query(None, max_length=64),
        object_team_id: str | None = Query(None, max_length=256),
        object_key_hash: str | None = Query(None, max_length=128),
        search: str | None = Query(None, max_length=320),
        sort_by: str | None = Query(None, max_length=64),
        sort_order: str = Query("desc", max_length=8),
    ) -> JSONResponse:
        account_id = _admin(ctx)
        filters = Filters(
            account_id=account_id,
            actor=changed_by or _object_ref(changed_by_api_key),
            object_type=_OBJECT_TYPES.get(table_name, table_name) if table_name else None,
            object_id=_object_ref(object_id or object_key_hash or object_team_id),
            action=action if action and action not in _VERBS else None,
            verbs=_VERBS.get(action or "", ()),
            since=_date(start_date, "start_date"),
            until=_date(end_date, "end_date"),
            search=_object_ref(search),
        )
        # Entries are ordered by time only (LiteLLM's default, updated_at); another sort_by is ignored.
        async with pool().acquire() as conn:
            rows, total = await numbered_page(conn, filters, page, page_size, ascending=sort_order.lower() == "asc")
        return JSONResponse(
            {
                "audit_logs": [litellm_entry(row) for row in rows],
                "total": total,
                "page": page,
                "page_size": page_size,
                "total_pages": -(-total // page_size),
            }
        )

    @router.get("/audit/{id}", openapi_extra=serves("audit_log"))
    async def audit_entry(id: str, ctx: AnyTenant) -> JSONResponse:
        account_id = _admin(ctx)
        async with pool().acquire() as conn:
            row = await by_id(conn, account_id, id[:256])
        if row is None:
            # LiteLLM's HTTPException; the id is not echoed (it is caller input).
            raise LiteLLMError(404, {"detail": {"message": "Audit log not found"}})
        return JSONResponse(litellm_entry(row))

    return router
