"""An account admin's provider credentials: LiteLLM's ``/credentials`` endpoints, per account.

Stored by LiteLLM (values encrypted with LITELLM_SALT_KEY, else the master key) under
the internal name ``<account_id>/<name>`` with the owner in ``credential_info``; listed
masked, never in plain text, and only to their own account. A model can only name a
credential of its own account (extensions/routes/models.py), and a request body naming
any credential is refused (extensions/models/guard.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from extensions.egress import current_policy
from extensions.errors import NotFound, RequestError
from extensions.models import store
from extensions.models.naming import ACCOUNT_KEY, RESERVED_KEYS, internal_name
from extensions.models.presentation import present_credential, unprefixed
from extensions.routes.delegate import LiteLLMAnswer, call_litellm
from extensions.routes.deps import AccountAdmin, json_object
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.models import model_not_found
from extensions.tenancy.policy.config_values import check_credential_values, check_references
from extensions.tenancy.request.context import Principal

__all__ = ["get_credentials_router"]


def _not_found(name: str) -> NotFound:
    return NotFound(f"credential {name!r} not found", hint="list your account's credentials with GET /credentials")


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise RequestError(
            "credential_name must be a non-empty name without '/'", hint='e.g. "credential_name": "openai-prod"'
        )
    return value.strip()


def _info(ctx: Principal, body: dict[str, Any]) -> dict[str, Any]:
    info = body.get("credential_info") or {}
    if not isinstance(info, dict):
        raise RequestError("credential_info must be an object", hint="send a JSON object")
    for field in sorted(RESERVED_KEYS):
        if field in info:
            raise RequestError(f"credential_info.{field} is set by the gateway", hint="remove it")
    return {**info, ACCOUNT_KEY: ctx.account_id}


async def _check_config(body: dict[str, Any]) -> None:
    """Credential values are merged into the litellm_params of the models naming them: the same
    allow-list, reference and egress checks apply (extensions/tenancy/policy/config_values.py)."""
    values = body.get("credential_values")
    check_credential_values(values)
    check_references(body, "")
    if isinstance(values, dict) and values.get("api_base") not in (None, ""):
        await current_policy().check(values["api_base"], "credential_values.api_base", unresolvable_ok=True)


async def _own(ctx: Principal, name: str) -> str:
    internal = internal_name(str(ctx.account_id), name)
    if await store.credential_owner(internal) != ctx.account_id:
        raise _not_found(name)
    return internal


def _single(ctx: Principal, answer: LiteLLMAnswer) -> Response:
    body = answer.json()
    if answer.ok and isinstance(body, dict) and "credential_name" in body:
        return answer.relay(present_credential(ctx.account_id, body) or {})
    return answer.relay()


def get_credentials_router() -> APIRouter:
    router = APIRouter()

    @router.get("/credentials", openapi_extra=serves("credentials"))
    async def list_credentials(request: Request, ctx: AccountAdmin) -> Response:
        answer = await call_litellm(request, "GET", "/credentials", as_system=True)
        body = answer.json()
        if not answer.ok or not isinstance(body, dict):
            return answer.relay()
        rows = (present_credential(ctx.account_id, row) for row in body.get("credentials") or [])
        return answer.relay({**body, "credentials": [row for row in rows if row is not None]})

    @router.post("/credentials", openapi_extra=serves("credentials"))
    async def create_credential(request: Request, ctx: AccountAdmin) -> Response:
        body = await json_object(request)
        name = _name(body.get("credential_name"))
        await _check_config(body)
        model_id = body.get("model_id")
        if model_id is not None and await store.model_owner(str(model_id)) != ctx.account_id:
            raise model_not_found(str(model_id))
        rewritten = {
            **body,
            "credential_name": internal_name(str(ctx.account_id), name),
            "credential_info": _info(ctx, body),
        }
        answer = await call_litellm(request, "POST", "/credentials", json_body=rewritten, as_system=True)
        return answer.relay(unprefixed(ctx.account_id, answer.json()))

    @router.get("/credentials/by_name/{credential_name:path}", openapi_extra=serves("credentials"))
    async def by_name(credential_name: str, request: Request, ctx: AccountAdmin) -> Response:
        internal = await _own(ctx, credential_name)
        answer = await call_litellm(request, "GET", f"/credentials/by_name/{internal}", as_system=True)
        return _single(ctx, answer)

    @router.get("/credentials/by_model/{model_id}", openapi_extra=serves("credentials"))
    async def by_model(model_id: str, request: Request, ctx: AccountAdmin) -> Response:
        if await store.model_owner(model_id) != ctx.account_id:
            raise model_not_found(model_id)
        answer = await call_litellm(request, "GET", f"/credentials/by_model/{model_id}", as_system=True)
        return _single(ctx, answer)

    @router.patch("/credentials/{credential_name:path}", openapi_extra=serves("credentials"))
    async def update_credential(credential_name: str, request: Request, ctx: AccountAdmin) -> Response:
        internal = await _own(ctx, credential_name)
        body = await json_object(request)
        await _check_config(body)
        if body.get("credential_name") not in (None, credential_name, internal):
            raise RequestError("credential_name is immutable", hint="set display_name to relabel the credential")
        rewritten = {**body, "credential_name": internal}
        if "credential_info" in body:
            rewritten["credential_info"] = _info(ctx, body)
        answer = await call_litellm(request, "PATCH", f"/credentials/{internal}", json_body=rewritten, as_system=True)
        return answer.relay(unprefixed(ctx.account_id, answer.json()))

    @router.delete("/credentials/{credential_name:path}", openapi_extra=serves("credentials"))
    async def delete_credential(credential_name: str, request: Request, ctx: AccountAdmin) -> Response:
        internal = await _own(ctx, credential_name)
        answer = await call_litellm(request, "DELETE", f"/credentials/{internal}", as_system=True)
        return answer.relay(unprefixed(ctx.account_id, answer.json()))

    return router
