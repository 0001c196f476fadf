"""The account-resolving ASGI middleware: decides the tenant once per request.

It gives every request an id, asks the resolver who the caller is, applies the route
policy, and runs the rest of the stack inside the resulting :class:`TenantContext`:

- default deny for tenant principals: a route nobody classified is closed, and so are
  ``super_admin`` routes and ``replaced`` routes without an Atrium replacement;
- ``replaced`` routes are served by Atrium's tenant-scoped handler;
- body fields the policy guards are validated before LiteLLM sees them;
- raw SQL is allowed for tenants only on routes reviewed for it (``raw_sql_reviewed``).

Websocket handshakes are policed like HTTP requests (method ``WS``); CORS preflight
requests carry no credentials and pass.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extensions import litellm
from extensions.errors import AtriumError, RouteNotAllowed
from extensions.logs import request_id_var
from extensions.models import provider_objects
from extensions.request_body import buffer_body
from extensions.tenancy import end_users
from extensions.tenancy.config_values import check_management_body, checks_management_body
from extensions.tenancy.conflicts import CLAIMS, check_conflicts
from extensions.tenancy.context import PrincipalKind, TenantContext, tenant_context
from extensions.tenancy.guards import check_guards
from extensions.tenancy.onboarding import ONBOARDING_ROUTES, OnboardingRefusal, check_onboarding
from extensions.tenancy.raw_sql import raw_sql_reviewed
from extensions.tenancy.references import check_references
from extensions.tenancy.refusals import RequestRefusals, request_refusals

DOWNSTREAM_SCOPE_KEY = "atrium.downstream"  # the app behind the middleware, for replacement handlers


__all__ = ["OPEN_TO_TENANTS", "AccountMiddleware", "AnonymousResolver", "Resolver", "error_response"]

log = logging.getLogger("atrium.middleware")

REQUEST_ID_HEADER = "x-request-id"
PUBLIC_ROUTE = TenantContext(PrincipalKind.SYSTEM, user_id="public-route")
OPEN_TO_TENANTS = frozenset({"public", "llm", "tenant"})


class Resolver(Protocol):
    async def resolve(self, scope: Scope, headers: Headers) -> TenantContext: ...


class AnonymousResolver:
    """Used until tenancy is configured: every request is anonymous."""

    async def resolve(self, scope: Scope, headers: Headers) -> TenantContext:
        return TenantContext(PrincipalKind.ANONYMOUS)


class Classification(Protocol):
    @property
    def route(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def route_class(self) -> str: ...
    @property
    def handler(self) -> str | None: ...
    @property
    def guards(self) -> tuple[str, ...]: ...
    @property
    def raw_sql_reviewed(self) -> bool: ...


class Policy(Protocol):
    def classify(self, method: str, path: str) -> Any: ...


class Replacements(Protocol):
    def handles(self, handler: str | None) -> bool: ...
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


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


def _denied(path: str, method: str, classification: Classification | None) -> RouteNotAllowed:
    if classification is None:
        return RouteNotAllowed(
            f"{method} {path} is not available to account principals",
            hint="this route has not been reviewed for tenant isolation; ask the super admin",
        )
    return RouteNotAllowed(
        f"{method} {path} is restricted to the super admin",
        hint="it reads or changes data shared by all accounts",
        route=classification.route,
    )


def _only_session_cookie(scope: Scope, headers: Headers) -> bool:
    return litellm.api_key_from_headers(headers) is None and litellm.api_key_from_query(scope) is None


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "/")
    root: str = scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


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


async def _json_body(scope: Scope, headers: Headers, receive: Receive, *, llm: bool) -> tuple[Any, Receive]:
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
    try:
        return (json.loads(body) if body.strip() else None), receive
    except ValueError:
        return None, receive  # not JSON: LiteLLM answers the parse error itself


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return None  # not JSON: LiteLLM answers the parse error itself


async def _litellm_error(send: Send, refusal: OnboardingRefusal, request_id: str) -> None:
    """A refusal on LiteLLM's own public routes, in LiteLLM's error body (the UI parses it)."""
    body = json.dumps(
        litellm.proxy_error_body(
            refusal.message, status=refusal.status, error_type="invalid_request_error", param=refusal.param
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (REQUEST_ID_HEADER.encode(), request_id.encode()),
                *((name.lower().encode(), value.encode()) for name, value in refusal.headers.items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccountMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        resolver: Resolver | None = None,
        policy: Policy | None = None,
        replacements: Replacements | None = None,
        resolver_factory: Callable[[], Resolver | None] | None = None,
    ) -> None:
        self.app = app
        self._resolver = resolver
        self._resolver_factory = resolver_factory
        self.policy = policy
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
        request_id = headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        rid_token = request_id_var.set(request_id)
        raw_token = raw_sql_reviewed.set(False)
        refusals = RequestRefusals()
        refusals_token = request_refusals.set(refusals)
        try:
            await self._dispatch(scope, receive, send, headers, request_id, refusals)
        finally:
            request_refusals.reset(refusals_token)
            raw_sql_reviewed.reset(raw_token)
            request_id_var.reset(rid_token)

    def _is_public(self, method: str, scope: Scope) -> bool:
        found = self.policy.classify(method, _route_path(scope)) if self.policy is not None else None
        return found is not None and str(found.route_class) == "public"

    async def _refuse(self, scope: Scope, send: Send, error: AtriumError, request_id: str) -> None:
        log.info("request refused", extra={"code": error.code, "path": scope.get("path")})
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
        else:
            await error_response(send, error, request_id)

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, request_id: str, refusals: RequestRefusals
    ) -> None:
        is_ws = scope["type"] == "websocket"
        method = "WS" if is_ws else scope.get("method", "GET")
        if method == "OPTIONS" and "access-control-request-method" in headers:
            await self.app(scope, receive, send)  # CORS preflight: no credentials, no data
            return
        try:
            ctx = await self.resolver.resolve(scope, headers)
        except AtriumError as exc:
            if not (self._is_public(method, scope) and _only_session_cookie(scope, headers)):
                await self._refuse(scope, send, exc, request_id)
                return
            # A stale UI session cookie (say of a suspended account) must not lock its holder out
            # of the login pages. A key sent in a header or query is still refused: some public
            # routes authenticate it themselves.
            ctx = TenantContext(PrincipalKind.ANONYMOUS)
        if ctx.principal is PrincipalKind.ANONYMOUS and self.policy is not None:
            if self._is_public(method, scope):
                # Login, SSO callbacks and onboarding look a user up by the credential they present,
                # whichever account it belongs to; the keys they mint are stamped by the database.
                ctx = PUBLIC_ROUTE
        scope.setdefault("state", {})["atrium_tenant"] = ctx
        target: ASGIApp = self.app
        if ctx.is_tenant_principal and ctx.principal is not PrincipalKind.ANONYMOUS and self.policy is not None:
            path = _route_path(scope)
            classification = self.policy.classify(method, path)
            route_class = str(classification.route_class) if classification is not None else None
            replacements = self.replacements
            if route_class == "replaced" and replacements is not None and replacements.handles(classification.handler):
                target = replacements
                scope[DOWNSTREAM_SCOPE_KEY] = self.app  # replacements may run vetted calls through LiteLLM
            elif route_class not in OPEN_TO_TENANTS:
                await self._refuse(scope, send, _denied(path, method, classification), request_id)
                return
            if route_class == "llm" and not is_ws:
                # Provider objects and selectors: pinned to the account's own deployments
                # before LiteLLM picks credentials (many of these handlers skip the pre-call hook).
                try:
                    with tenant_context(ctx):
                        receive = await provider_objects.vet_llm_request(
                            scope, receive, classification.template, ctx.account_id
                        )
                except Exception as exc:
                    if not litellm.is_proxy_exception(exc):
                        raise
                    log.info("provider object refused", extra={"path": scope.get("path")})
                    await provider_objects.send_refusal(send, exc, [(REQUEST_ID_HEADER.encode(), request_id.encode())])
                    return
            if classification is not None and classification.raw_sql_reviewed:
                raw_sql_reviewed.set(True)
            if classification is not None and not is_ws:
                # Guarded fields, stored configuration, id references, global namespaces (ids,
                # emails, end users): all checked before LiteLLM sees the request.
                route = classification.route
                parsed, receive = await _json_body(scope, headers, receive, llm=route_class == "llm")
                namespaced = end_users.needs_body(route_class, route, ctx)
                body, drained = b"", receive
                if namespaced or route in CLAIMS:
                    body, receive = await buffer_body(drained)  # drained: consumed, replayed after the mapping
                parsed_for_claims = parsed if parsed is not None or route not in CLAIMS else _loads(body)
                try:
                    with tenant_context(ctx):
                        if classification.guards:
                            await check_guards(tuple(classification.guards), parsed, ctx)
                        if checks_management_body(route_class, classification.route):
                            check_management_body(parsed)  # no server-side references or callbacks stored
                        # Taken ids and emails first: one generic 409 whoever holds them.
                        await check_conflicts(route, parsed_for_claims, path, ctx)
                        await check_references(
                            ctx,
                            classification.template,
                            path,
                            scope.get("query_string", b""),
                            parsed,
                            llm=route_class == "llm",
                            headers=headers,
                        )
                        if namespaced:
                            receive, send = end_users.namespace_request(
                                scope, body, drained, send, route_class=route_class, route=route, ctx=ctx
                            )
                except AtriumError as exc:
                    await self._refuse(scope, send, exc, request_id)
                    return
        if not is_ws and (method, _route_path(scope)) in ONBOARDING_ROUTES:
            parsed, receive = await _json_body(scope, headers, receive, llm=False)
            try:
                peer = scope["client"][0] if scope.get("client") else None
                await check_onboarding(
                    method, _route_path(scope), scope.get("query_string", b""), parsed, peer=peer, headers=headers
                )
            except OnboardingRefusal as refusal:
                await _litellm_error(send, refusal, request_id)
                return

        held: list[Message] = []  # a 5xx answer, held until its body says whether a refusal caused it

        async def send_with_id(message: Message) -> None:
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
                await send_with_id_headers(start)
                for part in rest:
                    await send(part)
                return
            await send_with_id_headers(message)

        async def send_with_id_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        with tenant_context(ctx):
            await target(scope, receive, send_with_id if not is_ws else send)
