"""LiteLLM's model utilities (``/utils/*``) on the account's model names.

LiteLLM looks the name up in the shared router, where an account's model is the group
``<account_id>/<name>``. The public name is mapped to the caller's own group first and
another account's internal name is "not found"; LiteLLM's handler then runs with the
caller's own key, and its answer names the public name again.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from extensions.errors import NotFound
from extensions.models import catalog
from extensions.models.naming import owner_of
from extensions.models.presentation import unprefixed
from extensions.routes.delegate import call_litellm
from extensions.routes.deps import AnyTenant, json_object
from extensions.routes.replacements.handlers import serves
from extensions.tenancy.request.context import Principal

__all__ = ["get_model_utils_router"]


def _mapped(ctx: Principal, model: object) -> object:
    """The name LiteLLM should look up for ``model`` on behalf of the caller's account."""
    if not isinstance(model, str) or not model:
        return model
    resolved = catalog.resolve(ctx.account_id, model)
    if resolved is not None:
        return resolved
    if owner_of({"model_name": model}) not in (None, ctx.account_id):
        raise NotFound(
            f"The model `{model}` does not exist or you do not have access to it.",
            hint="list the models your key can use with GET /v1/models",
        )
    return model  # not a router model: LiteLLM answers from its cost map


def get_model_utils_router() -> APIRouter:
    router = APIRouter()

    @router.post("/utils/token_counter", openapi_extra=serves("model_utils"))
    async def token_counter(request: Request, ctx: AnyTenant) -> Response:
        body = await json_object(request)
        body["model"] = _mapped(ctx, body.get("model"))
        answer = await call_litellm(
            request, "POST", "/utils/token_counter", query=dict(request.query_params), json_body=body, as_system=False
        )
        return answer.relay(unprefixed(ctx.account_id, answer.json()))

    @router.get("/utils/supported_openai_params", openapi_extra=serves("model_utils"))
    @router.get("/utils/model_info", openapi_extra=serves("model_utils"))
    async def by_model_query(request: Request, ctx: AnyTenant) -> Response:
        query = dict(request.query_params)
        query["model"] = str(_mapped(ctx, query.get("model")) or "")
        answer = await call_litellm(request, "GET", request.scope["path"], query=query, as_system=False)
        return answer.relay(unprefixed(ctx.account_id, answer.json()))

    return router
