"""The Budgets page over the caller's account: ``GET /management/v1/budgets``.

LiteLLM's ``list_budgets`` planned and answered by LiteLLM's list framework (parameters,
envelope, problems), its rows read with asyncpg from ``LiteLLM_BudgetTable`` where
``account_id`` is the caller's. LiteLLM lets only a proxy admin or admin viewer list budgets
(403 problem otherwise): here an account admin or viewer; a member is refused the same way.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from extensions import litellm
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.litellm_errors import problem_response
from extensions.routes.replacements.scope import admin_view, in_account, litellm_role, pool

__all__ = ["get_budgets_router"]


def get_budgets_router() -> APIRouter:
    router = APIRouter()

    @router.get("/management/v1/budgets", openapi_extra=serves("budgets_list"))
    async def list_budgets(request: Request, ctx: AnyTenant) -> Response:
        denied = None if admin_view(ctx) else f"Only proxy admins can list budgets, your role={litellm_role(ctx)}"
        answer = await litellm.list_budgets(
            request, denied=denied, scope_sql=in_account(), scope_args=(ctx.account_id,), fetch=pool().fetch
        )
        if isinstance(answer, litellm.Problem):
            return problem_response(answer)
        return JSONResponse(answer)

    return router
