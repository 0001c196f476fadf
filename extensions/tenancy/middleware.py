"""The account-resolving ASGI middleware: decides the tenant once per request.

It gives every request an id, asks the resolver who the caller is, applies the route
policy (default deny for tenant principals: a route nobody classified is closed), and
runs the rest of the stack inside the resulting :class:`TenantContext`. Routes whose
LiteLLM handler cannot be scoped are served to tenant principals by Atrium's own
tenant-scoped handler when one exists, and refused otherwise. Non-HTTP scopes pass
through untouched.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Protocol

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extensions.errors import AtriumError, RouteNotAllowed
from extensions.logs import request_id_var
from extensions.tenancy.context import PrincipalKind, TenantContext, tenant_context

__all__ = ["OPEN_TO_TENANTS", "AccountMiddleware", "AnonymousResolver", "Resolver", "error_response"]

log = logging.getLogger("atrium.middleware")

REQUEST_ID_HEADER = "x-request-id"


class Resolver(Protocol):
    async def resolve(self, scope: Scope, headers: Headers) -> TenantContext: ...


class AnonymousResolver:
    """Used until tenancy is configured: every request is anonymous."""

    async def resolve(self, scope: Scope, headers: Headers) -> TenantContext:
        return TenantContext(PrincipalKind.ANONYMOUS)


async def error_response(send: Send, error: AtriumError, request_id: str) -> None:
    # LiteLLM's own errors use {"error": {...}}; keep that shape so clients parse ours too.
    body = json.dumps({"error": {**error.to_dict(), "type": error.code, "request_id": request_id}}).encode()
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


class Classification(Protocol):
    route: str
    route_class: str
    handler: str | None


class Policy(Protocol):
    def classify(self, method: str, path: str) -> Classification | None: ...


class Replacements(Protocol):
    def handles(self, handler: str | None) -> bool: ...
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


OPEN_TO_TENANTS = frozenset({"public", "llm", "tenant"})


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
        if self._resolver_factory is not None:
            found = self._resolver_factory()
            if found is not None:
                return found
        return self._resolver or AnonymousResolver()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        rid_token = request_id_var.set(request_id)
        try:
            try:
                ctx = await self.resolver.resolve(scope, headers)
            except AtriumError as exc:
                log.info("request refused", extra={"code": exc.code, "path": scope.get("path")})
                await error_response(send, exc, request_id)
                return
            scope.setdefault("state", {})["atrium_tenant"] = ctx
            target: ASGIApp = self.app
            if ctx.is_tenant_principal and ctx.principal is not PrincipalKind.ANONYMOUS and self.policy:
                method, path = scope.get("method", "GET"), scope.get("path", "/")
                classification = self.policy.classify(method, path)
                route_class = classification.route_class if classification else None
                if route_class == "replaced" and self.replacements is not None and classification is not None:
                    if not self.replacements.handles(classification.handler):
                        await error_response(send, _denied(path, method, None), request_id)
                        return
                    target = self.replacements
                elif route_class not in OPEN_TO_TENANTS:
                    log.info("route denied", extra={"path": path, "route_class": route_class})
                    await error_response(send, _denied(path, method, classification), request_id)
                    return

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), request_id.encode())]
                await send(message)

            with tenant_context(ctx):
                await target(scope, receive, send_with_id)
        finally:
            request_id_var.reset(rid_token)
