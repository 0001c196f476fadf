"""``GET /user/info`` for a tenant principal: its own user, as LiteLLM answers it.

LiteLLM's handler reads one user with model calls (the user row, its teams, its keys), which the
account's Prisma wrapper scopes, so for the caller's own user it runs with the caller's own
credentials and its body is LiteLLM's. What cannot be scoped is the proxy-admin branch (no
``user_id`` and an admin role: a raw ``json_agg`` over every team and key), so the handler always
names the user; and another user's id is refused here (another account's is already "not found"
by the reference check), because the admin view of the account's users is ``/v2/user/info`` and
``/user/list``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from extensions.errors import NotFound, RouteNotAllowed
from extensions.routes.delegate import call_litellm
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves

__all__ = ["get_user_info_router"]


def get_user_info_router() -> APIRouter:
    router = APIRouter()

    @router.get("/user/info", openapi_extra=serves("user_info"))
    async def user_info(request: Request, ctx: AnyTenant, user_id: str | None = None) -> Response:
        own = ctx.user_id
        if user_id not in (None, "", own):
            raise RouteNotAllowed(
                "GET /user/info reads your own user only",
                hint="account admins read the account's users with GET /v2/user/info?user_id=... or GET /user/list",
            )
        if own is None:
            # LiteLLM answers a key without a user (a team key) the same way: no user to describe.
            raise NotFound("User None not found", hint="a team key belongs to no user")
        answer = await call_litellm(request, "GET", "/user/info", query={"user_id": own}, as_system=False)
        return answer.relay()

    return router
