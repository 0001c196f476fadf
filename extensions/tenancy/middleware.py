"""The account-resolving ASGI middleware: decides the tenant once per request.

It gives every request an id, asks the resolver who the caller is, refuses what the
route policy does not allow for that principal, and runs the rest of the stack inside
the resulting :class:`TenantContext`. Non-HTTP scopes pass through untouched.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Protocol

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extensions.errors import AtriumError
from extensions.logs import request_id_var
from extensions.tenancy.context import PrincipalKind, TenantContext, tenant_context

__all__ = ["AccountMiddleware", "AnonymousResolver", "Resolver", "error_response"]

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


class AccountMiddleware:
    def __init__(self, app: ASGIApp, resolver: Resolver | None = None) -> None:
        self.app = app
        self.resolver: Resolver = resolver or AnonymousResolver()

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

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), request_id.encode())]
                await send(message)

            with tenant_context(ctx):
                await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(rid_token)
