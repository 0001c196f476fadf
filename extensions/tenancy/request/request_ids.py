"""The request id on every answer: the outermost middleware of the served app.

It takes the caller's plain ``x-request-id`` (else makes one, ``checks.request_id_from``), sets it
for logs, audit entries and LiteLLM's spend-log metadata (``extensions.logs.request_id_var``), and
puts it on every HTTP answer whoever produced it: LiteLLM's routes (streams included), Atrium's,
refusals, LiteLLM's 404 for paths no route serves. A header of that name from further in is
replaced, so an answer carries exactly one. LiteLLM's own ``x-litellm-call-id`` is left alone:
the caller's id never becomes LiteLLM's call id (the spend log's primary key; a caller may send
the same id twice).

An exception no inner layer answered would reach Starlette's error middleware, which sits outside
every added middleware and answers a bare 500; this one answers it first, with the id and Atrium's
error body, and re-raises so the server still logs it.
"""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extensions.errors import AtriumError
from extensions.logs import request_id_var
from extensions.tenancy.request.checks import REQUEST_ID_HEADER, request_id_from
from extensions.tenancy.request.middleware import error_response

__all__ = ["RequestIdMiddleware", "UnhandledError"]

log = logging.getLogger("atrium.middleware")

_HEADER = REQUEST_ID_HEADER.encode()


class UnhandledError(AtriumError):
    code = "internal_error"
    status = 500


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))
        token = request_id_var.set(request_id)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send, request_id)
        finally:
            request_id_var.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = False
        value = request_id.encode()

        async def stamped(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if bytes(k).lower() != _HEADER]
                message["headers"] = [*headers, (_HEADER, value)]
            await send(message)

        try:
            await self.app(scope, receive, stamped)
        except Exception:
            if started:
                raise
            log.exception("unhandled error", extra={"path": scope.get("path")})
            error = UnhandledError("the gateway failed to answer this request", hint=f"quote request id {request_id}")
            await error_response(stamped, error, request_id)
            raise
