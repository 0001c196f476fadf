"""Capturing state-changing requests: the ASGI middleware around the account middleware.

It sits *outside* :class:`~extensions.tenancy.request.middleware.AccountMiddleware`, so it sees
the policy's refusals as well as what LiteLLM and Atrium's routes answered; the principal comes
from the account middleware's ``answered`` hook (:meth:`AuditCapture.answered`), which is told
the decided principal before the first byte of every answer.

For POST/PUT/PATCH/DELETE on every route that is not an LLM or public route it buffers the
request body, reads the objects' state before the change (:class:`AuditWriter.before`), holds
the answer (up to ``RESPONSE_CAP``; beyond it the entry is written without the response) and
writes the entry *before* the answer leaves. The failure rule: when the entry of a request
that succeeded cannot be written the client gets a 500 (``audit_write_failed``, naming the
request id) instead of the success; the change may have committed, so the error says so. A
refusal whose entry cannot be written is still answered as the refusal (nothing changed).
Anonymous requests (no credentials: 401) and sign-ins are not audited here.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extensions.audit.entries import AuditEntry, diff
from extensions.audit.objects import DESCRIBE, action_of, object_type_of, path_params, target_of
from extensions.audit.writer import AuditWriter
from extensions.auth.trusted_header import trusted_proxy_networks
from extensions.errors import AtriumError
from extensions.logs import request_id_var
from extensions.request_body import buffer_body
from extensions.tenancy.policy.decision import RouteClass
from extensions.tenancy.policy.route_policy import RoutePolicy
from extensions.tenancy.request.checks import REQUEST_ID_HEADER
from extensions.tenancy.request.context import Principal, PrincipalKind
from extensions.tenancy.request.middleware import error_response

__all__ = ["PRINCIPAL_SCOPE_KEY", "RESPONSE_CAP", "AuditCapture", "AuditMiddleware", "held_until_recorded"]

log = logging.getLogger("atrium.audit")

PRINCIPAL_SCOPE_KEY: Final = "atrium.audit.principal"
RESPONSE_CAP: Final = 1024 * 1024
_MUTATING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NOT_AUDITED: Final = frozenset({RouteClass.LLM, RouteClass.PUBLIC})


class AuditCapture:
    """The per-worker state: the writer (once a database is there) and the ``answered`` hook."""

    def __init__(self) -> None:
        self.writer: AuditWriter | None = None

    def answered(self, principal: Principal, scope: Scope, status_code: int) -> None:
        scope[PRINCIPAL_SCOPE_KEY] = principal


def client_ip(peer: str | None, headers: Headers) -> str | None:
    """The client's address: the peer, or the right-most X-Forwarded-For hop that is not one of
    ``ATRIUM_TRUSTED_PROXIES`` when the peer is one (the sign-in throttle's rule, without its /64)."""
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return peer
    networks = trusted_proxy_networks()
    if networks and any(address in net for net in networks):
        for part in reversed(headers.get("x-forwarded-for", "").split(",")):
            try:
                address = ipaddress.ip_address(part.strip())
            except ValueError:
                continue
            if not any(address in net for net in networks):
                break
    return str(address)


def _route_path(scope: Scope) -> str:
    """The path as the route policy sees it (without the root path), as the account middleware does."""
    path: str = scope.get("path", "/")
    root: str = scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _outcome(status: int, body: dict[str, Any] | None) -> str:
    if status < 400:
        return "success"
    error = (body or {}).get("error")
    atrium_refusal = isinstance(error, dict) and "hint" in error and status < 500  # Atrium's error body
    return "refused" if status in (401, 403) or atrium_refusal else "failed"


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, policy: RoutePolicy, capture: AuditCapture) -> None:
        self.app = app
        self.policy = policy
        self.capture = capture

    def _template(self, method: str, path: str) -> str | None:
        """The route template when the request is audited, else None."""
        found = self.policy.classify(method, path)
        if found is not None and found.route_class in _NOT_AUDITED:
            return None
        return found.template if found is not None else path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        writer = self.capture.writer
        method = scope.get("method", "") if scope["type"] == "http" else ""
        template = self._template(method, _route_path(scope)) if method in _MUTATING else None
        if writer is None or template is None:
            await self.app(scope, receive, send)
            return
        raw, receive = await buffer_body(receive)
        request = AuditedRequest(scope, template, _json(raw))
        await request.snapshot(writer)

        async def record(start: Message, body: bytes) -> AtriumError | None:
            return await request.record(writer, scope, start, body)

        await self.app(scope, receive, held_until_recorded(send, RESPONSE_CAP, record))


Record = Callable[[Message, bytes], Awaitable[AtriumError | None]]


def held_until_recorded(send: Send, cap: int, record: Record) -> Send:
    """``send``, holding the answer (up to ``cap`` bytes) until ``record(start, body)`` has written
    its entry; when that returns an error, the client gets the error instead of the answer (and
    nothing of the rest of it). ``body`` is empty beyond ``cap``: the entry is written without it."""
    held: list[Message] = []
    size = 0
    done = swallow = False

    async def holding(message: Message) -> None:
        nonlocal size, done, swallow
        if swallow:
            return  # the rest of an answer replaced by the audit failure
        if done:
            await send(message)
            return
        held.append(message)
        if message["type"] != "http.response.body":
            return
        size += len(message.get("body", b""))
        if message.get("more_body", False) and size <= cap:
            return
        done = True
        start, parts = held[0], held[1:]
        body = b"".join(m.get("body", b"") for m in parts) if size <= cap else b""
        failure = await record(start, body)
        if failure is not None:
            swallow = True
            await error_response(send, failure, AuditedRequest.request_id(start) or "")
            return
        for part in held:
            await send(part)

    return holding


class AuditedRequest:
    """One audited request: what it names, the state before, and how its entry is made."""

    def __init__(self, scope: Scope, template: str, body: dict[str, Any] | None) -> None:
        self.method: str = scope["method"]
        self.path = _route_path(scope)
        self.template = template
        self.body = body
        self.params = path_params(template, self.path)
        self.object_type = object_type_of(self.path)
        self.before_rows: dict[str, dict[str, Any]] = {}

    async def snapshot(self, writer: AuditWriter) -> None:
        target = target_of(self.object_type, self.params, self.body)
        fields = set(self.body or {}) | DESCRIBE.get(self.object_type, set())
        try:
            self.before_rows = await writer.before(self.object_type, target.raw, fields)
        except Exception:  # no before-state: the entry still records the change
            log.warning("audit: state before the change not read", exc_info=True)

    @staticmethod
    def request_id(start: Message) -> str | None:
        for name, value in start.get("headers", []):
            if name.decode("latin-1").lower() == REQUEST_ID_HEADER:
                return str(value.decode("latin-1"))
        return request_id_var.get()

    def _changes(self, success: bool) -> dict[str, Any]:
        sent = dict(self.body or {})
        if not success:
            return {"request": diff(None, sent)} if sent else {}
        if not self.before_rows:
            return diff(None, sent)
        deleting = self.method == "DELETE" or self.template.rstrip("/").endswith("/delete")
        per_object: dict[str, Any] = {}
        for object_id, row in self.before_rows.items():
            if deleting:
                described = {k: v for k, v in row.items() if k in DESCRIBE.get(self.object_type, set())}
                per_object[object_id] = diff(described, None)
            else:
                per_object[object_id] = diff({k: row.get(k) for k in sent if k in row}, sent)
        if len(per_object) == 1:
            return next(iter(per_object.values()))
        return {target_of(self.object_type, {"id": k}).shown[0]: v for k, v in per_object.items()}

    async def _account(self, writer: AuditWriter, principal: Principal, target: Any, response: Any) -> str:
        """The chain: the principal's account; for the super admin the account the change touched."""
        if principal.account_id is not None:
            return principal.account_id
        for source in (response, self.body, self.params):
            named = (source or {}).get("account_id") if isinstance(source, dict) else None
            if isinstance(named, str) and named:
                found = await writer.account_of(named)
                if found is not None:
                    return found
        owners = {row.get("account_id") for row in self.before_rows.values()} - {None}
        if len(owners) == 1:
            return str(owners.pop())
        owner = await writer.owner(self.object_type, target.raw)
        return owner or ""

    async def record(self, writer: AuditWriter, scope: Scope, start: Message, body: bytes) -> AtriumError | None:
        """Write the entry; the error to answer instead of a success whose entry was not written."""
        principal: Principal | None = scope.get(PRINCIPAL_SCOPE_KEY)
        if principal is None or principal.kind is PrincipalKind.ANONYMOUS:
            return None
        status = int(start["status"])
        response = _json(body)
        outcome = _outcome(status, response)
        success = outcome == "success"
        try:
            target = target_of(self.object_type, self.params, self.body, response if success else None)
            headers = Headers(scope=scope)
            client = scope.get("client")
            entry = AuditEntry(
                account_id=await self._account(writer, principal, target, response if success else None)
                if success or principal.account_id is not None
                else "",
                actor=await writer.actor(principal),
                method=self.method,
                route=self.template,
                action=action_of(self.object_type, self.method, self.template),
                object_type=self.object_type,
                object_ids=tuple(target.shown),
                changes=self._changes(success),
                status_code=status,
                outcome=outcome,
                request_id=self.request_id(start),
                source_ip=client_ip(client[0], headers) if client else None,
                user_agent=headers.get("user-agent"),
            )
            await writer.write(entry)
        except AtriumError as exc:
            return exc if success else None
        except Exception:
            log.error("audit entry not built", exc_info=True)
            return writer.failure(self.request_id(start)) if success else None
        return None
