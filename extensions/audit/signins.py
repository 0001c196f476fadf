"""Sign-ins in the audit log: who signed in (or tried), how, from where, and why it was refused.

Sign-in routes are public, so the capture middleware (which needs a principal) does not see
them. Atrium's own sign-in handlers know the outcome where it is decided and record it here
(:func:`audited_signin` around the handler); LiteLLM's password login is recorded by
:mod:`extensions.audit.signin_capture` from its answer. Either way the entry joins the hash
chain of the account the sign-in targeted (``""``: none could be told).

What is stored: the method (``signin.sso``, ``signin.password``, ``signin.trusted_header``,
``invitation.accept``), the outcome (``success``, ``refused``: a 4xx, a 429 included;
``failed``: the gateway broke), on success the user and role, on failure the address or username
that was tried (bounded) and a reason code (``changes.reason``). Never a password, code, state,
id_token, invitation token or session: none of them is ever handed to this module.

The failure rule for sign-ins: the entry of a successful sign-in is written before the session
leaves the gateway; when it cannot be written the caller gets 500 ``audit_write_failed`` and no
session (the cookie is never sent). A refusal whose entry cannot be written is answered as the
refusal.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from starlette.datastructures import Headers
from starlette.requests import Request

from extensions.audit.entries import Actor, AuditEntry
from extensions.audit.middleware import client_ip
from extensions.audit.writer import AuditWriter
from extensions.errors import AtriumError
from extensions.logs import request_id_var
from extensions.runtime import runtime

__all__ = [
    "ATTEMPT_MAX",
    "SIGNIN_OBJECT",
    "SigninAttempt",
    "audited_signin",
    "reason_of",
    "signin_writer",
]

log = logging.getLogger("atrium.audit")

SIGNIN_OBJECT: Final = "signin"
ATTEMPT_MAX: Final = 320  # an address or username that was tried: caller input, so bounded (RFC 5321)
_REASON_MAX: Final = 64

_writer: AuditWriter | None = None


def signin_writer() -> AuditWriter:
    """This worker's writer over the runtime's pool (the chain's lock is in the database)."""
    global _writer
    pool = runtime.require_pool("sign-in audit entries")
    if _writer is None or _writer.pool is not pool:
        _writer = AuditWriter(pool)
    return _writer


def bounded(value: Any, limit: int = ATTEMPT_MAX) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def reason_of(exc: AtriumError) -> str:
    """The reason code of a refusal: the identity error's own (``state_invalid``, ...), else its code."""
    reason = getattr(exc, "reason", None)
    return str(reason if isinstance(reason, str) and reason else exc.code)[:_REASON_MAX]


class SigninAttempt:
    """One sign-in as it unfolds: the handler says what it learns (account, address, user), then
    how it ended; :meth:`write` makes the entry."""

    def __init__(self, action: str, method: str, route: str, headers: Headers, peer: str | None) -> None:
        self.action = action
        self.method = method
        self.route = route
        self.source_ip = client_ip(peer, headers) if peer else None
        self.user_agent = headers.get("user-agent")
        self.account_id = ""
        self.email: str | None = None
        self.user_id: str | None = None
        self.written = False

    def target(self, *, account_id: str | None = None, email: str | None = None, user_id: str | None = None) -> None:
        """What the handler knows so far about who signs in where (kept when the sign-in is refused):
        the account, and the address or user name that was tried."""
        if account_id:
            self.account_id = account_id
        if email:
            self.email = bounded(email)
        if user_id:
            self.user_id = bounded(user_id)

    async def succeeded(
        self,
        *,
        user_id: str,
        email: str | None,
        role: str | None,
        account_id: str | None,
        status: int = 303,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record the success; raises :class:`~extensions.audit.writer.AuditWriteFailed` (500) when the
        entry cannot be written, before the caller hands out the session."""
        actor = Actor(kind="user", user_id=user_id, email=bounded(email), role=role)
        await self.write(account_id or "", actor, "success", status, (user_id,), details or {})

    async def refused(self, status: int, reason: str) -> None:
        """Record a refusal (or a failure, 5xx); never raises: the refusal is answered as it was."""
        outcome = "refused" if status < 500 else "failed"
        actor = Actor(kind="anonymous", user_id=self.user_id, email=self.email)
        try:
            await self.write(self.account_id, actor, outcome, status, (), {"reason": reason})
        except AtriumError:
            pass  # logged by the writer; nothing was handed out

    async def write(
        self,
        account_id: str,
        actor: Actor,
        outcome: str,
        status: int,
        object_ids: tuple[str, ...],
        changes: dict[str, Any],
    ) -> None:
        self.written = True
        entry = AuditEntry(
            account_id=account_id,
            actor=actor,
            method=self.method,
            route=self.route,
            action=self.action,
            object_type=SIGNIN_OBJECT,
            object_ids=object_ids,
            changes=changes,
            status_code=status,
            outcome=outcome,
            request_id=request_id_var.get(),
            source_ip=self.source_ip,
            user_agent=self.user_agent,
        )
        await signin_writer().write(entry)


@asynccontextmanager
async def audited_signin(request: Request, action: str, route: str) -> AsyncIterator[SigninAttempt]:
    """Around one sign-in handler: an ``AtriumError`` leaving it (a 429 included) is recorded as
    refused with its reason code, anything else as failed; a success is recorded by the handler
    (:meth:`SigninAttempt.succeeded`) where it knows the user, before the session is handed out."""
    peer = request.client.host if request.client else None
    attempt = SigninAttempt(action, request.method, route, request.headers, peer)
    try:
        yield attempt
    except AtriumError as exc:
        if not attempt.written:
            await attempt.refused(exc.status, reason_of(exc))
        raise
    except Exception:
        if not attempt.written:
            await attempt.refused(500, "internal_error")
        raise
