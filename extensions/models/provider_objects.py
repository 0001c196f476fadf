"""Provider objects (files, batches, responses, vector stores, ...) stay on the account's deployments.

LiteLLM serves provider-side objects through routes that pick a deployment from many
places: the ``x-litellm-model`` header, ``model`` / ``target_model_names`` in the query or
body (JSON or multipart), ``custom_llm_provider`` / ``provider`` / ``{provider}`` and,
above all, the object id itself, which encodes the deployment it was made with. Many of
these handlers never reach the router's pre-call hook, and without any selector they fall
back to the proxy-wide provider credentials of the operator. So this check runs in the
account middleware, before LiteLLM, for every ``llm`` request of a tenant principal:

- every model selector must name one of the account's OWN deployments (public name,
  internal name or deployment id); it is rewritten to the internal name LiteLLM routes on;
- every id that encodes a deployment must encode one of the account's own; an id that is
  LiteLLM-encoded but names no deployment cannot be attributed and is refused;
- a vector store id registered by another account (process-wide registry) is refused;
- a provider-object route must resolve to an own deployment (selector, attributable id
  or own registered vector store): otherwise LiteLLM would use the operator's credentials,
  and a listing could not be attributed. Global models are not a home for objects:
  nothing records which account made an object on a shared deployment.

Refusals are LiteLLM's own error shape, 404 like an unknown model (never naming the other
account's object).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from extensions import litellm
from extensions.models import catalog
from extensions.models.naming import owner_of
from extensions.models.provider_bodies import read_body
from extensions.tenancy.request.checks import REQUEST_ID_HEADER, Exchange, Reply
from extensions.tenancy.request.context import system_context

__all__ = ["MODEL_HEADER", "ProviderObjects", "is_object_route", "send_refusal", "vet_llm_request"]

log = logging.getLogger("atrium.middleware")

MODEL_HEADER = "x-litellm-model"  # litellm.proxy.auth.auth_utils.MODEL_ROUTING_HEADER_NAME
PROVIDER_HEADER = "custom-llm-provider"
MODEL_FIELDS = ("model", "target_model_names")
PROVIDER_FIELDS = ("custom_llm_provider", "provider")
# Object ids LiteLLM decodes a deployment from (auth_utils._MODEL_ROUTING_ID_FIELDS), plus
# the ids of responses and containers that ride along in request bodies.
ID_FIELDS = (
    "file_id", "input_file_id", "output_file_id", "error_file_id", "batch_id", "fine_tuning_job_id",
    "training_file", "validation_file", "video_id", "character_id", "previous_response_id",
    "response_id", "container_id", "assistant_id", "thread_id",
)  # fmt: skip
ID_LIST_FIELDS = ("file_ids",)
VECTOR_FIELDS = ("vector_store_id",)
VECTOR_LIST_FIELDS = ("vector_store_ids",)
# Path parameters that are not object ids.
_NOT_IDS = frozenset({"provider", "endpoint", "model", "model_name"})
_OBJECT_ROUTE = re.compile(
    r"^(?:/\{provider\}|/openai)?(?:/v1beta|/v1)?/"
    r"(?:(?:files|batches|fine_tuning|assistants|threads|containers|evals|agents|vector_stores|indexes|rag"
    r"|videos|interactions)(?:/|$)|responses/\{)"
)
# Cheap pre-filter for inference bodies: only these can name an object or a vector store.
_INFERENCE_MARKERS = (b"vector_store", b"previous_response_id", b"file_id", b"container")
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_]+))?}")
_MAX_SHOWN = 80
# Where LiteLLM's handlers honour a selector (verified in 1.108.7 and by the own-selector
# sweep): every files route (handle_model_based_routing reads body, query and header), batch
# creation and listing. Elsewhere a selector is still vetted but does not make the request the
# account's own; there an object id in the path must itself name an own deployment (batch
# retrieve/cancel with a raw id ignore every selector and use the operator's credentials).
_SELECTOR_ROUTES = re.compile(r"^(?:/\{provider\})?(?:/v1)?/(?:files(?:$|/)|batches$)")


class _Attribution:
    def __init__(self) -> None:
        self.own = False  # the request resolves to one of the account's own deployments


def is_object_route(template: str) -> bool:
    """Routes of the provider-object groups (files, batches, ..., vector stores, object ids)."""
    return _OBJECT_ROUTE.match(template) is not None


@lru_cache(maxsize=512)
def _template_regex(template: str) -> re.Pattern[str]:
    pattern, pos = "", 0
    for match in _PARAM.finditer(template):
        part = ".*" if match.group(2) == "path" else "[^/]+"
        pattern += re.escape(template[pos : match.start()]) + f"(?P<{match.group(1)}>{part})"
        pos = match.end()
    return re.compile(pattern + re.escape(template[pos:]))


def _path_params(template: str, path: str) -> dict[str, str]:
    found = _template_regex(template).fullmatch(path)
    return {k: v for k, v in found.groupdict().items() if v} if found else {}


def _not_found(what: str, value: str, param: str) -> Exception:
    shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
    return litellm.proxy_exception(
        f"The {what} `{shown}` does not exist or you do not have access to it.",
        status=404,
        error_type="invalid_request_error",
        param=param,
        code="model_not_found" if what == "model" else "not_found",
    )


def _unattributed() -> Exception:
    return litellm.proxy_exception(
        "Select one of your account's models for this request (the `x-litellm-model` header, or `model` / "
        "`target_model_names`): provider objects live on your account's own model deployments.",
        status=404,
        error_type="invalid_request_error",
        param="model",
        code="model_not_found",
    )


def _deployment_owner(model_id: str) -> tuple[bool, str | None]:
    router = litellm.llm_router()
    if router is None or not router.has_model_id(model_id):
        return False, None
    deployment = router.get_deployment(model_id=model_id)
    if deployment is None:
        return False, None
    return True, owner_of(deployment.model_dump(exclude_none=True))


def _owned_literal(account: str | None, name: str) -> bool:
    """Does the router name (or deployment id) LiteLLM will use belong to ``account`` only?"""
    deployments = catalog.deployments_named(name)
    if deployments:
        return all(owner_of(d) == account for d in deployments)
    exists, owner = _deployment_owner(name)
    return exists and owner == account


def _own_model(account: str | None, requested: str, param: str) -> str:
    resolved = catalog.resolve(account, requested)
    if resolved is None or not _owned_literal(account, resolved):
        raise _not_found("model", requested, param)
    return resolved


def _split_names(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _check_id(account: str | None, value: str, param: str, seen: _Attribution) -> None:
    ref = litellm.decode_object_id(value)
    if not ref.encoded:
        return  # a provider's own id: only meaningful with the deployment the request selects
    if not ref.model_names and not ref.model_ids:
        raise _not_found("object", value, param)
    for name in ref.model_names:
        if not _owned_literal(account, name):
            raise _not_found("object", value, param)
    for model_id in ref.model_ids:
        exists, owner = _deployment_owner(model_id)
        if not exists or owner != account:
            raise _not_found("object", value, param)
    seen.own = True


async def _vector_store_row(vector_store_id: str) -> bool:
    client = litellm.prisma_client()
    if client is None:
        return False
    row = await client.db.litellm_managedvectorstorestable.find_first(where={"vector_store_id": vector_store_id})
    return row is not None


async def _check_vector_store(account: str | None, value: str, param: str, seen: _Attribution) -> None:
    _check_id(account, value, param, seen)  # managed (encoded) vector store ids name their deployment
    # Under the tenant context the scoped wrapper filters by account: another's row is None.
    if await _vector_store_row(value):
        seen.own = True
        return
    if litellm.vector_store_registered(value):
        raise _not_found("vector store", value, param)  # in this worker's registry: someone else's
    with system_context():  # another worker may have loaded it: ask the table, every account
        registered_elsewhere = await _vector_store_row(value)
    if registered_elsewhere:
        raise _not_found("vector store", value, param)


def _ids_in(data: Mapping[str, Any]) -> Iterable[tuple[str, str, bool]]:
    """(field, id, is_vector_store) found at the top level and in tools of a request body."""
    for field in ID_FIELDS:
        if isinstance(data.get(field), str):
            yield field, data[field], False
    for field in ID_LIST_FIELDS:
        listed = data.get(field)
        for value in listed if isinstance(listed, list) else ():
            if isinstance(value, str):
                yield field, value, False
    for field in VECTOR_FIELDS:
        if isinstance(data.get(field), str):
            yield field, data[field], True
    tools = data.get("tools")
    holders: list[Any] = [data, *(tools if isinstance(tools, list) else [])]
    for holder in holders:
        if not isinstance(holder, Mapping):
            continue
        for field in VECTOR_LIST_FIELDS:
            values = holder.get(field)
            for value in values if isinstance(values, list) else ([values] if isinstance(values, str) else ()):
                if isinstance(value, str):
                    yield field, value, True
        container = holder.get("container") if holder is not data else None
        if isinstance(container, str):
            yield "container", container, False


async def _vet_ids(account: str | None, fields: Iterable[tuple[str, str, bool]], seen: _Attribution) -> None:
    for field, value, is_vector in fields:
        if is_vector:
            await _check_vector_store(account, value, field, seen)
        else:
            _check_id(account, value, field, seen)


def _vet_models(account: str | None, source: dict[str, Any], seen: _Attribution, *, fields: tuple[str, ...]) -> None:
    """Check (and rewrite in place) the model selectors of one source: query, form or JSON body."""
    for field in fields:
        value = source.get(field)
        if value in (None, "", []):
            continue
        names = [_own_model(account, name, field) for name in _split_names(value)]
        source[field] = names if isinstance(value, list) else ",".join(names)
        seen.own = seen.own or bool(names)


def _rewrite_header(scope: Scope, name: str, value: str) -> None:
    raw = name.encode()
    scope["headers"] = [(k, v) for k, v in scope.get("headers", []) if k.lower() != raw] + [(raw, value.encode())]


async def vet_llm_request(scope: Scope, receive: Receive, template: str, account: str | None) -> Receive:
    """Vet one ``llm`` request of a tenant principal; returns the ``receive`` to pass on.

    Raises LiteLLM's ``ProxyException`` (via ``extensions.litellm``) when the request names another
    account's deployment or object, or a provider-object request names none of its own.
    """
    objects = is_object_route(template)
    headers = Headers(scope=scope)
    seen = _Attribution()
    honours_model = _SELECTOR_ROUTES.match(template) is not None
    header_model = headers.get(MODEL_HEADER)
    if header_model:
        _rewrite_header(scope, MODEL_HEADER, _own_model(account, header_model, MODEL_HEADER))
        seen.own = honours_model
    path_params = _path_params(template, scope.get("path", ""))
    if not objects:
        body = await read_body(scope, receive, markers=_INFERENCE_MARKERS)
        if body.data is not None:
            await _vet_ids(account, _ids_in(body.data), seen)
        return body.receive
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    outside = _Attribution()
    _vet_models(account, query, outside, fields=MODEL_FIELDS)
    path_ids = [(k, v, k == "vector_store_id") for k, v in path_params.items() if k not in _NOT_IDS]
    body = await read_body(scope, receive, markers=None)
    data: dict[str, Any] = body.data if body.data is not None else {}
    in_body = _Attribution()
    _vet_models(account, data, in_body, fields=MODEL_FIELDS)
    # A body selector is honoured by creation routes (no object id in the path); query and
    # header selectors only where _SELECTOR_ROUTES says so.
    seen.own = seen.own or (outside.own and honours_model) or (in_body.own and (honours_model or not path_ids))
    completion = data.get("completion")  # evals: the model a run completes with
    if isinstance(completion, dict):
        _vet_models(account, completion, _Attribution(), fields=("model",))  # vetted, not a credential choice
    await _vet_ids(account, [*path_ids, *_ids_in(data)], seen)
    storage = data.get("target_storage") or query.get("target_storage")
    if storage not in (None, "", "default"):
        raise _not_found("storage", str(storage), "target_storage")  # the operator's storage credentials
    if not seen.own:
        # No own deployment selected: LiteLLM would fall back to a provider chosen by
        # custom_llm_provider/{provider} (default openai) with the operator's credentials.
        raise _unattributed()
    scope["query_string"] = urlencode(query).encode()
    return await body.rewritten(scope)


async def send_refusal(send: Send, error: Exception, extra_headers: list[tuple[bytes, bytes]]) -> None:
    status, payload = litellm.proxy_exception_body(error)
    raw = json.dumps(payload).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            *extra_headers,
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": raw})


class ProviderObjects:
    """Provider objects and selectors: pinned to the account's own deployments before LiteLLM
    picks credentials (many of these handlers skip the pre-call hook)."""

    def applies(self, ex: Exchange) -> bool:
        return ex.vetted_http and ex.decision.is_llm

    async def run(self, ex: Exchange) -> Reply | None:
        assert ex.decision.classification is not None  # applies() checked it
        try:
            ex.receive = await vet_llm_request(
                ex.scope, ex.receive, ex.decision.classification.template, ex.decision.principal.account_id
            )
        except Exception as exc:
            if not litellm.is_proxy_exception(exc):
                raise
            log.info("provider object refused", extra={"path": ex.scope.get("path")})
            extra = [(REQUEST_ID_HEADER.encode(), ex.request_id.encode())]
            refused: Exception = exc

            async def reply(send: Send) -> None:
                await send_refusal(send, refused, extra)

            return reply
        return None
