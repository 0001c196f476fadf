"""An account admin's model writes: LiteLLM's ``/model/*`` endpoints, pinned to the account.

Each request is checked and rewritten for the caller's account, then handed to LiteLLM's
own handler (extensions/routes/delegate.py), which encrypts the provider secrets, writes
the row and reloads the router; the other workers and replicas pick the change up on
their next reload (see docs/models.md). Another account's model is "not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from extensions.egress import current_policy
from extensions.errors import NotFound, RequestError
from extensions.models import store
from extensions.models.naming import (
    ACCOUNT_KEY,
    FALLBACKS_KEY,
    PUBLIC_NAME_KEY,
    RESERVED_KEYS,
    internal_name,
    is_internal_of,
)
from extensions.models.presentation import present_deployment, unprefixed
from extensions.routes.delegate import LiteLLMAnswer, call_litellm
from extensions.routes.deps import AccountAdmin, json_object
from extensions.routes.replacements.handlers import serves
from extensions.tenancy.policy.config_values import check_litellm_params, check_references
from extensions.tenancy.request.context import Principal

__all__ = ["get_models_router", "model_not_found"]

# model_info fields that reach beyond the account: team models are LiteLLM's licensed
# feature, access groups are proxy-wide names (their sync rewrites other accounts' rows).
_REFUSED_INFO = ("team_id", "access_groups", "team_public_model_name")


# Any of these makes LiteLLM use the account's credential rather than the gateway's environment.
_OWN_CREDENTIAL_FIELDS = (
    "api_key",
    "litellm_credential_name",
    "aws_access_key_id",
    "vertex_credentials",
    "azure_ad_token",
    "client_secret",
    "azure_password",
)


# Providers that fall back to the gateway host's cloud identity (ADC, instance roles) unless
# given these exact fields; an api_key alone does not stop the fallback there.
_PROVIDER_CREDENTIALS: dict[str, tuple[tuple[str, ...], ...]] = {
    "vertex_ai": (("vertex_credentials",),),
    "vertex_ai_beta": (("vertex_credentials",),),
    "bedrock": (("aws_access_key_id", "aws_secret_access_key"), ("api_key",)),
    "sagemaker": (("aws_access_key_id", "aws_secret_access_key"),),
    "sagemaker_chat": (("aws_access_key_id", "aws_secret_access_key"),),
}


def _has_own_credential(params: Mapping[str, Any]) -> bool:
    if params.get("litellm_credential_name"):
        return True  # the credential's values were checked when it was written
    provider = str(params.get("custom_llm_provider") or str(params.get("model", "")).split("/", 1)[0]).lower()
    options = _PROVIDER_CREDENTIALS.get(provider)
    if options is not None:
        return any(all(params.get(field) not in (None, "") for field in option) for option in options)
    return any(params.get(field) not in (None, "") for field in _OWN_CREDENTIAL_FIELDS)


def model_not_found(model_id: str) -> NotFound:
    return NotFound(f"model {model_id!r} not found", hint="list your account's models with GET /v2/model/info")


def _public_name(body: Mapping[str, Any], *, required: bool) -> str | None:
    name = body.get("model_name")
    if name is None and not required:
        return None
    if not isinstance(name, str) or not name.strip():
        raise RequestError("model_name must be a non-empty string", hint='e.g. "model_name": "gpt-4o"')
    return name.strip()


def _model_info(account_id: str, body: Mapping[str, Any], public: str | None) -> dict[str, Any]:
    info = body.get("model_info") or {}
    if not isinstance(info, dict):
        raise RequestError("model_info must be an object", hint="send model_info as a JSON object")
    for field in (*_REFUSED_INFO, *sorted(RESERVED_KEYS)):
        if info.get(field) not in (None, "", []):
            raise RequestError(
                f"model_info.{field} cannot be set on an account model",
                hint="remove it: the model belongs to your whole account; restrict use with team or key models",
            )
    fallbacks = info.get(FALLBACKS_KEY)
    if fallbacks is not None and (not isinstance(fallbacks, list) or not all(isinstance(f, str) for f in fallbacks)):
        raise RequestError(
            f"model_info.{FALLBACKS_KEY} must be a list of your model names", hint='e.g. ["gpt-4o-mini"]'
        )
    check_references(info, "model_info")
    pinned = {k: v for k, v in info.items() if k not in _REFUSED_INFO}
    pinned[ACCOUNT_KEY] = account_id
    if public is not None:
        pinned[PUBLIC_NAME_KEY] = public
    return pinned


async def _litellm_params(account_id: str, body: Mapping[str, Any], *, required: bool) -> dict[str, Any] | None:
    params = body.get("litellm_params")
    if params is None and not required:
        return None
    if not isinstance(params, dict) or (required and not params.get("model")):
        raise RequestError(
            "litellm_params must be an object with the provider model",
            hint='e.g. {"model": "openai/gpt-4o", "litellm_credential_name": "my-openai"}',
        )
    # No server-side references, only classified fields, and an endpoint the egress policy allows.
    check_litellm_params(params)
    if params.get("api_base") not in (None, ""):
        await current_policy().check(params["api_base"], "litellm_params.api_base", unresolvable_ok=True)
    if required and not _has_own_credential(params):
        # Without one, LiteLLM falls back to the gateway's own provider credentials
        # (OPENAI_API_KEY, AWS/Google/Azure ambient identities) and sends them to this endpoint.
        raise RequestError(
            "litellm_params.api_key: an account model needs a credential of its own",
            hint="set api_key (any value for providers that need none) or litellm_credential_name",
        )
    pinned = dict(params)
    credential = params.get("litellm_credential_name")
    if credential:
        internal = internal_name(account_id, str(credential))
        if await store.credential_owner(internal) != account_id:
            raise RequestError(
                f"credential {credential!r} not found in your account",
                hint="create it first with POST /credentials, or list them with GET /credentials",
            )
        pinned["litellm_credential_name"] = internal
    return pinned


async def _owned(account_id: str, model_id: object) -> str:
    if not isinstance(model_id, str) or not model_id:
        raise RequestError("the model id is missing", hint="send the model's id (model_info.id)")
    if await store.model_owner(model_id) != account_id:
        raise model_not_found(model_id)
    return model_id


def _answer(ctx: Principal, answer: LiteLLMAnswer) -> Response:
    body = answer.json()
    if answer.ok and isinstance(body, dict) and "model_name" in body:
        return answer.relay(present_deployment(ctx.account_id, body) or {})
    return answer.relay(unprefixed(ctx.account_id, body) if body is not None else None)


def get_models_router() -> APIRouter:
    router = APIRouter()

    @router.post("/model/new", openapi_extra=serves("model_crud"))
    async def model_new(request: Request, ctx: AccountAdmin) -> Response:
        account = str(ctx.account_id)
        body = await json_object(request)
        check_references(body, "")
        public = _public_name(body, required=True)
        assert public is not None
        if is_internal_of(account, public):
            raise RequestError("model_name must be the public name", hint="drop the account prefix")
        rewritten = {
            **body,
            "model_name": internal_name(account, public),
            "litellm_params": await _litellm_params(account, body, required=True),
            "model_info": _model_info(account, body, public),
        }
        rewritten["model_info"].pop("id", None)  # LiteLLM assigns ids: a chosen id could shadow another's
        return _answer(ctx, await call_litellm(request, "POST", "/model/new", json_body=rewritten, as_system=True))

    async def _update(request: Request, ctx: Principal, path: str, model_id: object) -> Response:
        account = str(ctx.account_id)
        body = await json_object(request)
        await _owned(account, model_id)
        check_references(body, "")
        public = _public_name(body, required=False)
        rewritten: dict[str, Any] = {**body, "model_info": {**_model_info(account, body, public), "id": model_id}}
        if public is not None:
            rewritten["model_name"] = internal_name(account, public)
        params = await _litellm_params(account, body, required=False)
        if params is not None:
            rewritten["litellm_params"] = params
        return _answer(ctx, await call_litellm(request, request.method, path, json_body=rewritten, as_system=True))

    @router.post("/model/update", openapi_extra=serves("model_crud"))
    async def model_update(request: Request, ctx: AccountAdmin) -> Response:
        body = await json_object(request)
        info = body.get("model_info") if isinstance(body.get("model_info"), dict) else {}
        return await _update(request, ctx, "/model/update", (info or {}).get("id"))

    @router.patch("/model/{model_id}/update", openapi_extra=serves("model_crud"))
    async def model_patch(model_id: str, request: Request, ctx: AccountAdmin) -> Response:
        return await _update(request, ctx, f"/model/{model_id}/update", model_id)

    @router.post("/model/delete", openapi_extra=serves("model_crud"))
    async def model_delete(request: Request, ctx: AccountAdmin) -> Response:
        body = await json_object(request)
        model_id = await _owned(str(ctx.account_id), body.get("id"))
        answer = await call_litellm(request, "POST", "/model/delete", json_body={"id": model_id}, as_system=True)
        return _answer(ctx, answer)

    @router.post("/model/block", openapi_extra=serves("model_crud"))
    @router.post("/model/unblock", openapi_extra=serves("model_crud"))
    async def model_block(request: Request, ctx: AccountAdmin) -> Response:
        body = await json_object(request)
        model_id = await _owned(str(ctx.account_id), body.get("model_id"))
        answer = await call_litellm(
            request, "POST", request.scope["path"], json_body={"model_id": model_id}, as_system=True
        )
        return _answer(ctx, answer)

    return router
