"""Run a vetted request through LiteLLM's own handler and read its answer.

Atrium's replacements decide what a tenant may do, then let LiteLLM do it, so
validation, encryption of provider secrets, the reload of every worker's router and
LiteLLM's audit trail stay LiteLLM's. The contract used is LiteLLM's HTTP API (the one
its admin UI uses), not its internals. ``as_system`` runs the call with the master key
in the system context: only for requests the replacement has already rewritten and
checked for the caller's account.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message

from extensions import litellm
from extensions.errors import AtriumError, ConfigurationError
from extensions.tenancy.request.context import system_context
from extensions.tenancy.request.middleware import DOWNSTREAM_SCOPE_KEY

__all__ = ["LiteLLMAnswer", "call_litellm"]

_HOP_HEADERS = frozenset({b"content-length", b"content-type", b"transfer-encoding"})


@dataclass
class LiteLLMAnswer:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def relay(self, content: Any | None = None) -> Response:
        """This answer to the client, with ``content`` instead of LiteLLM's body when given."""
        body = self.body if content is None else json.dumps(content).encode()
        response = Response(content=body, status_code=self.status, media_type="application/json")
        for name, value in self.headers:
            if name.lower() not in _HOP_HEADERS and name.lower().startswith(b"x-litellm"):
                response.headers.append(name.decode("latin-1"), value.decode("latin-1"))
        return response


async def call_litellm(
    request: Request,
    method: str,
    path: str,
    *,
    query: dict[str, Any] | None = None,
    json_body: Any | None = None,
    as_system: bool,
) -> LiteLLMAnswer:
    downstream: ASGIApp | None = request.scope.get(DOWNSTREAM_SCOPE_KEY)
    if downstream is None:
        raise AtriumError("replacement handler reached outside the account middleware", hint="report this bug")
    body = b"" if json_body is None else json.dumps(json_body).encode()
    if as_system:
        master = litellm.master_key()
        if not master:
            raise ConfigurationError("the gateway has no master key", hint="set LITELLM_MASTER_KEY")
        headers = [(b"authorization", f"Bearer {master}".encode())]
    else:
        headers = [(k, v) for k, v in request.scope["headers"] if k.lower() not in _HOP_HEADERS]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    query_string = urlencode({k: v for k, v in (query or {}).items() if v is not None}, doseq=True)
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": request.scope.get("asgi", {"version": "3.0"}),
        "http_version": request.scope.get("http_version", "1.1"),
        "method": method,
        "scheme": request.scope.get("scheme", "http"),
        "server": request.scope.get("server"),
        "client": request.scope.get("client"),
        "root_path": request.scope.get("root_path", ""),
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string.encode(),
        "headers": headers,
        "state": {} if as_system else dict(request.scope.get("state", {})),
        "app": request.scope.get("app"),
    }
    answer = LiteLLMAnswer(status=500)
    chunks: list[bytes] = []
    sent = False
    done = asyncio.Event()

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        with system_context() if as_system else nullcontext():
            await downstream(scope, receive, send)
    finally:
        done.set()
    answer.body = b"".join(chunks)
    return answer
