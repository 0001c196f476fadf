"""The account middleware: the transport between the client, the route policy and the app.

Per request it gives the request an id, asks the resolver for the :class:`Principal`, asks
the route policy for the one :class:`~extensions.tenancy.policy.decision.Decision`, sets the
principal (the only place it is set for a request), runs the decision's isolation checks
(:mod:`extensions.tenancy.request.checks`) and forwards to LiteLLM or to Atrium's replacement
handlers. It decides nothing itself: default deny, replacements, guards and the raw-SQL
review flag are the policy's answer.

Websocket handshakes are policed like HTTP requests (method ``WS``); CORS preflight
requests carry no credentials and pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extensions import litellm
from extensions.errors import AtriumError
from extensions.logs import request_id_var
from extensions.tenancy.data.raw_sql import raw_sql_reviewed
from extensions.tenancy.policy.decision import Action, Decision
from extensions.tenancy.policy.route_policy import RoutePolicy
from extensions.tenancy.request.checks import REQUEST_ID_HEADER, Check, Exchange, request_id_from
from extensions.tenancy.request.context import Principal, PrincipalKind, principal_context
from extensions.tenancy.request.refusals import RequestRefusals, request_refusals

DOWNSTREAM_SCOPE_KEY = "atrium.downstream"  # the app behind the middleware, for replacement handlers

__all__ = [
    "DOWNSTREAM_SCOPE_KEY",
    "AccountMiddleware",
    "AnonymousResolver",
    "Replacements",
    "Resolver",
    "Tracing",
    "error_response",
]

log = logging.getLogger("atrium.middleware")

ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)


class Resolver(Protocol):
    async def resolve(self, scope: Scope, headers: Headers) -> Principal: ...


class Replacements(Protocol):
    """Atrium's replacement handlers: an ASGI app and the handler ids it serves."""

    @property
    def handlers(self) -> frozenset[str]: ...
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class Tracing(Protocol):
    """Times the middleware's stages for the request's trace (extensions/observability/tracing.py)."""

    def request(self) -> AbstractContextManager[None]: ...
    def stage(self, name: str, parts: list[str] | None = None) -> AbstractContextManager[None]: ...


class _NoTracing:
    def request(self) -> AbstractContextManager[None]:
        return nullcontext()

    def stage(self, name: str, parts: list[str] | None = None) -> AbstractContextManager[None]:
        return nullcontext()


class AnonymousResolver:
    """Used until tenancy is configured: every request is anonymous."""

    async def resolve(self, scope: Scope, headers: Headers) -> Principal:
        return ANONYMOUS


async def error_response(send: Send, error: AtriumError, request_id: str) -> None:
    body = json.dumps(error.response_body(request_id)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (REQUEST_ID_HEADER.encode(), request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _only_session_cookie(scope: Scope, headers: Headers) -> bool:
    return litellm.api_key_from_headers(headers) is None and litellm.api_key_from_query(scope) is None


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "/")
    root: str = scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


class AccountMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        policy: RoutePolicy,
        checks: Sequence[Check],
        replacements: Replacements | None = None,
        resolver: Resolver | None = None,
        resolver_factory: Callable[[], Resolver | None] | None = None,
        routed: Callable[[Scope], bool] | None = None,
        answered: Callable[[Principal, Scope, int], None] | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.app = app
        self.tracing: Tracing = tracing or _NoTracing()
        # Whether any route of the app matches the request's path (None: assume one does).
        self._routed = routed
        # Told the status of every HTTP answer with the principal it was decided for (metering).
        self._answered = answered
        self.checks = tuple(checks)
        self._resolver = resolver
        self._resolver_factory = resolver_factory
        # A replaced route is served only by a handler that exists; the policy denies the others.
        self.policy = policy.serving(replacements.handlers if replacements is not None else ())
        self.replacements = replacements

    @property
    def resolver(self) -> Resolver:
        found = self._resolver_factory() if self._resolver_factory is not None else None
        return found or self._resolver or AnonymousResolver()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        # RequestIdMiddleware (outermost) chose the id and answers with it; alone, choose it here.
        request_id = request_id_var.get() or request_id_from(headers)
        rid_token = request_id_var.set(request_id)
        raw_token = raw_sql_reviewed.set(False)
        refusals = RequestRefusals()
        refusals_token = request_refusals.set(refusals)
        try:
            with self.tracing.request():
                await self._dispatch(scope, receive, send, headers, request_id, refusals)
        finally:
            request_refusals.reset(refusals_token)
            raw_sql_reviewed.reset(raw_token)
            request_id_var.reset(rid_token)

    async def _refuse(self, scope: Scope, send: Send, error: AtriumError, request_id: str) -> None:
        log.info("request refused", extra={"code": error.code, "path": scope.get("path")})
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
        else:
            await error_response(send, error, request_id)

    async def _decide(
        self, scope: Scope, headers: Headers, method: str, request_id: str, send: Send
    ) -> Decision | None:
        """The request's decision, or None once a resolution error has been answered."""
        path = _route_path(scope)
        try:
            with self.tracing.stage("atrium.resolve_account"):
                principal = await self.resolver.resolve(scope, headers)
        except AtriumError as exc:
            # A stale UI session cookie (say of a suspended account) must not lock its holder out
            # of the login pages. A key sent in a header or query is still refused: some public
            # routes authenticate it themselves.
            anonymous = self.policy.decide(method, path, ANONYMOUS)
            if anonymous.is_public and _only_session_cookie(scope, headers):
                return anonymous
            await self._refuse(scope, send, exc, request_id)
            return None
        with self.tracing.stage("atrium.route_policy"):
            return self.policy.decide(method, path, principal)

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, request_id: str, refusals: RequestRefusals
    ) -> None:
        is_ws = scope["type"] == "websocket"
        method = "WS" if is_ws else scope.get("method", "GET")
        if method == "OPTIONS" and "access-control-request-method" in headers:
            await self.app(scope, receive, send)  # CORS preflight: no credentials, no data
            return
        decision = await self._decide(scope, headers, method, request_id, send)
        if decision is None:
            return
        if self._answered is not None and not is_ws:
            send = _reporting_status(send, decision.principal, scope, self._answered)
        with principal_context(decision.principal):
            if decision.action is Action.DENY:
                if decision.classification is None and self._routed is not None and not self._routed(scope):
                    # No route serves this path at all: LiteLLM's own 404 (its router runs no handler),
                    # not a policy refusal of a route that does not exist.
                    await self.app(scope, receive, send)
                    return
                assert decision.error is not None  # a denial always carries its error
                await self._refuse(scope, send, decision.error, request_id)
                return
            raw_sql_reviewed.set(decision.raw_sql_reviewed)
            exchange = Exchange(scope, headers, receive, send, decision, request_id)
            ran: list[str] = []  # one span for the checks (named in it): a span each cost more than they do
            with self.tracing.stage("atrium.isolation_checks", ran):
                for check in self.checks:
                    if not check.applies(exchange):
                        continue
                    ran.append(type(check).__name__)
                    try:
                        reply = await check.run(exchange)
                    except AtriumError as exc:
                        await self._refuse(scope, send, exc, request_id)
                        return
                    if reply is not None:
                        await reply(send)
                        return
            target: ASGIApp = self.app
            if decision.action is Action.REPLACE and self.replacements is not None:
                target = self.replacements
                scope[DOWNSTREAM_SCOPE_KEY] = self.app  # replacements may run vetted calls through LiteLLM
            forward = exchange.send if is_ws else _answering_refusals(exchange.send, refusals, request_id)
            await target(scope, exchange.receive, forward)


def _reporting_status(
    send: Send, principal: Principal, scope: Scope, answered: Callable[[Principal, Scope, int], None]
) -> Send:
    async def reporting(message: Message) -> None:
        if message["type"] == "http.response.start":
            try:
                answered(principal, scope, message["status"])
            except Exception:  # metering never fails an answer
                log.warning("reporting an answer failed", exc_info=True)
        await send(message)

    return reporting


def _answering_refusals(send: Send, refusals: RequestRefusals, request_id: str) -> Send:
    """Adds the request id to the answer; a 5xx is held until its body says whether a policy
    refusal inside LiteLLM caused it, and is then answered as that refusal."""
    held: list[Message] = []

    async def with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
        await send(message)

    async def answer(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 500 and refusals.recorded:
            held.append(message)
            return
        if held and message["type"] == "http.response.body":
            held.append(message)
            if message.get("more_body", False):
                return
            body = b"".join(m.get("body", b"") for m in held[1:])
            refusal = refusals.explaining(body)
            if refusal is not None:
                log.info("5xx after a policy refusal answered as the refusal", extra={"code": refusal.code})
                await error_response(send, refusal, request_id)
                return
            start, rest = held[0], held[1:]
            held.clear()
            await with_id(start)
            for part in rest:
                await send(part)
            return
        await with_id(message)

    return answer
