"""``GET /user/info`` for a tenant principal: what LiteLLM answers, within the caller's account.

LiteLLM reads one named user with model calls (the user row, its teams, its keys), which the
account's Prisma wrapper scopes; so a named user is answered by LiteLLM's own handler, run with
the caller's credentials. An account admin or viewer holds LiteLLM's proxy-admin (viewer) role,
so it may name any user of its account (another account's user is "not found" by the reference
check before this handler); anyone else gets LiteLLM's own 403 for another user's id.

What cannot be scoped is LiteLLM's proxy-admin branch (no ``user_id`` and an admin role: one raw
``json_agg`` over every team and key of the proxy). For an account admin or viewer that view is
built here from the account's teams and keys, through LiteLLM's models and key processing, with the
caller's own user as LiteLLM's handler describes it. A member without ``user_id`` gets its own user.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from extensions import litellm
from extensions.errors import NotFound
from extensions.routes.delegate import call_litellm
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.litellm_errors import LiteLLMError
from extensions.routes.replacements.scope import admin_view, in_account, pool
from extensions.tenancy.request.context import Principal

__all__ = ["get_user_info_router"]

# Fields LiteLLM's named-user answer adds to the user row, absent from its proxy-admin branch.
_NAMED_ONLY = frozenset({"model_max_budget_usage"})


async def _own_user(request: Request, ctx: Principal) -> dict[str, Any] | None:
    if ctx.user_id is None:
        return None
    answer = await call_litellm(request, "GET", "/user/info", query={"user_id": ctx.user_id}, as_system=False)
    found = answer.json().get("user_info") if answer.ok and isinstance(answer.json(), dict) else None
    return {k: v for k, v in found.items() if k not in _NAMED_ONLY} if isinstance(found, dict) else None


async def _rows(sql: str, account_id: str | None) -> list[dict[str, Any]]:
    text = await pool().fetchval(sql, account_id)
    rows = json.loads(text) if text else []
    return [row for row in rows if isinstance(row, dict)]


async def _account_view(request: Request, ctx: Principal) -> Response:
    teams = await _rows(f'SELECT json_agg(t.*) FROM "LiteLLM_TeamTable" t WHERE {in_account("t")}', ctx.account_id)
    keys = await _rows(
        f'SELECT json_agg(k.*) FROM "LiteLLM_VerificationToken" k WHERE {in_account("k")} '
        f"AND (k.team_id != '{litellm.UI_SESSION_TEAM}' OR k.team_id IS NULL)",
        ctx.account_id,
    )
    body = litellm.admin_user_info(
        user_id=ctx.user_id, user_info=await _own_user(request, ctx), team_rows=teams, key_rows=keys
    )
    return JSONResponse(body)


def get_user_info_router() -> APIRouter:
    router = APIRouter()

    @router.get("/user/info", openapi_extra=serves("user_info"))
    async def user_info(request: Request, ctx: AnyTenant, user_id: str | None = None) -> Response:
        if not user_id:
            if admin_view(ctx):
                return await _account_view(request, ctx)
            if ctx.user_id is None:
                # LiteLLM answers a key without a user (a team key) the same way: no user to describe.
                raise NotFound("User None not found", hint="a team key belongs to no user")
            user_id = ctx.user_id
        answer = await call_litellm(request, "GET", "/user/info", query={"user_id": user_id}, as_system=False)
        if answer.ok and user_id != ctx.user_id and not admin_view(ctx):
            # LiteLLM refuses a non-admin another user's id; should it ever not, fail closed.
            raise LiteLLMError(403, {"detail": "key not allowed to access this user's info"})
        return answer.relay()

    return router
