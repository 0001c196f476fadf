"""The isolation checks the middleware runs before a request reaches LiteLLM, in order.

Each check says from the request's :class:`~extensions.tenancy.policy.decision.Decision` whether it
applies, then either passes (possibly rewriting the request it hands on), raises an
:class:`~extensions.errors.AtriumError` (answered in Atrium's error body) or returns a
:data:`Reply` for refusals that must keep LiteLLM's own error shape. The order matters and is
the one the isolation suites test: provider objects first (before anything reads an LLM
body), then the body is read once; guarded fields, stored configuration, taken ids and
emails (one generic 409 whoever holds them) before id references; end users are mapped last,
once nothing can refuse the request any more; onboarding links apply to every principal.
``extensions.app.ISOLATION_CHECKS`` composes that order, with the two checks that live with
their feature (provider objects in ``models/``, onboarding in ``auth/``).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from extensions.request_body import buffer_body
from extensions.tenancy.policy import end_users
from extensions.tenancy.policy.config_values import check_management_body, checks_management_body
from extensions.tenancy.policy.conflicts import CLAIMS, check_conflicts
from extensions.tenancy.policy.decision import Decision
from extensions.tenancy.policy.guards import check_guards
from extensions.tenancy.policy.references import check_references

__all__ = [
    "REQUEST_ID_HEADER",
    "Check",
    "Conflicts",
    "EndUserNamespace",
    "Exchange",
    "Guards",
    "ReadBody",
    "References",
    "Reply",
    "StoredConfiguration",
    "parsed_body",
    "request_id_from",
]

log = logging.getLogger("atrium.middleware")

REQUEST_ID_HEADER = "x-request-id"
# A caller's own request id is kept (it ties their logs to ours) when it is short and plain: it is
# echoed in every response and written to every log line, so anything else gets a fresh one.
_CALLER_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_from(headers: Headers) -> str:
    """The request's id: the caller's ``x-request-id`` if it is plain, else a new one."""
    sent = headers.get(REQUEST_ID_HEADER)
    return sent if sent is not None and _CALLER_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


Reply = Callable[[Send], Awaitable[None]]


@dataclass
class Exchange:
    """One request on its way through the checks; ``receive``/``send`` are what is handed on."""

    scope: Scope
    headers: Headers
    receive: Receive
    send: Send
    decision: Decision
    request_id: str
    parsed: Any = None  # JSON or form fields; None when absent, unparsable or not searched
    raw: bytes = b""  # the raw body, buffered only when claims or end-user mapping need it
    drained: Receive | None = None  # ``receive`` before ``raw`` was buffered from it
    namespaced: bool = False

    @property
    def is_ws(self) -> bool:
        return bool(self.scope["type"] == "websocket")

    @property
    def vetted_http(self) -> bool:
        return self.decision.vetted and self.decision.classification is not None and not self.is_ws

    @property
    def route(self) -> str:
        classification = self.decision.classification
        return classification.route if classification is not None else ""


class Check(Protocol):
    def applies(self, ex: Exchange) -> bool: ...
    async def run(self, ex: Exchange) -> Reply | None: ...


async def _form_fields(scope: Scope, body: bytes) -> dict[str, Any] | None:
    """The text fields of a form body: LiteLLM's ``read_request_body`` turns forms into dicts too."""

    async def once() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, once).form()
    except Exception:  # malformed form: LiteLLM answers the parse error itself
        return None
    fields: dict[str, Any] = {}
    for name in form:
        texts = [v for v in form.getlist(name) if isinstance(v, str)]
        fields[name] = texts if len(texts) > 1 else (texts[0] if texts else None)
    return fields


async def parsed_body(scope: Scope, headers: Headers, receive: Receive, *, llm: bool) -> tuple[Any, Receive]:
    """The parsed body (JSON or form fields; None when absent, unparsable, or an LLM body without
    tags) and a replay of it for the app."""
    is_form = headers.get("content-type", "").startswith(("multipart/", "application/x-www-form-urlencoded"))
    if is_form and llm:
        return None, receive  # provider uploads (audio, files) are streamed on, not searched
    body, receive = await buffer_body(receive)
    if is_form:
        return await _form_fields(scope, body), receive
    if llm and b"tags" not in body and b"\\u" not in body:
        return None, receive  # LLM bodies are only searched for spend tags: skip the parse
    return _loads(body), receive


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return None  # not JSON: LiteLLM answers the parse error itself


class ReadBody:
    """Reads the body once for the checks below and replays it to the app."""

    def applies(self, ex: Exchange) -> bool:
        return ex.vetted_http

    async def run(self, ex: Exchange) -> Reply | None:
        decision, route = ex.decision, ex.route
        ex.parsed, ex.receive = await parsed_body(ex.scope, ex.headers, ex.receive, llm=decision.is_llm)
        ex.namespaced = end_users.needs_body(decision.route_class, route, decision.principal)
        ex.drained = ex.receive
        if ex.namespaced or route in CLAIMS:
            ex.raw, ex.receive = await buffer_body(ex.drained)  # replayed after the mapping
        return None


class Guards:
    def applies(self, ex: Exchange) -> bool:
        return ex.vetted_http and bool(ex.decision.guards)

    async def run(self, ex: Exchange) -> Reply | None:
        await check_guards(ex.decision.guards, ex.parsed, ex.decision.principal)
        return None


class StoredConfiguration:
    """No server-side references or callbacks in configuration a tenant stores."""

    def applies(self, ex: Exchange) -> bool:
        return ex.vetted_http and checks_management_body(ex.decision.route_class, ex.route)

    async def run(self, ex: Exchange) -> Reply | None:
        check_management_body(ex.parsed)
        return None


class Conflicts:
    def applies(self, ex: Exchange) -> bool:
        return ex.vetted_http

    async def run(self, ex: Exchange) -> Reply | None:
        route = ex.route
        parsed = ex.parsed if ex.parsed is not None or route not in CLAIMS else _loads(ex.raw)
        await check_conflicts(route, parsed, ex.decision.path, ex.decision.principal)
        return None


class References:
    def applies(self, ex: Exchange) -> bool:
        return ex.vetted_http

    async def run(self, ex: Exchange) -> Reply | None:
        assert ex.decision.classification is not None  # applies() checked it
        await check_references(
            ex.decision.principal,
            ex.decision.classification.template,
            ex.decision.path,
            ex.scope.get("query_string", b""),
            ex.parsed,
            llm=ex.decision.is_llm,
            headers=ex.headers,
        )
        return None


class EndUserNamespace:
    def applies(self, ex: Exchange) -> bool:
        return ex.vetted_http and ex.namespaced

    async def run(self, ex: Exchange) -> Reply | None:
        assert ex.drained is not None  # ReadBody ran
        ex.receive, ex.send = end_users.namespace_request(
            ex.scope,
            ex.raw,
            ex.drained,
            ex.send,
            route_class=ex.decision.route_class,
            route=ex.route,
            ctx=ex.decision.principal,
        )
        return None
