"""LiteLLM's own sign-ins in the audit log: the password login and the onboarding link's claim.

LiteLLM decides these (``POST /login``, ``/v2/login``, ``/v3/login``: username + password;
``POST /onboarding/claim_token``: an invitation link + a new password), so their outcome is
known only from the answer. This middleware reads the username (or the claimed user id) from
the request, holds the answer, and writes the entry before the answer leaves: on success the
user comes from the session cookie LiteLLM set (its JWT verified with the master key); only where
LiteLLM answers without one (``/v3/login``'s one-time code, the onboarding claim) from the name it
just verified. The password, the link and the session never reach the entry. The failure
rule of :mod:`extensions.audit.signins` applies: a success whose entry is not written is
answered 500 ``audit_write_failed``, without the cookie.

``/v3/login/exchange`` only swaps a one-time code for the session ``/v3/login`` already audited.
"""

from __future__ import annotations

import json
import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extensions import litellm
from extensions.audit.entries import Actor
from extensions.audit.middleware import AuditedRequest, held_until_recorded
from extensions.audit.signins import SigninAttempt, bounded, signin_writer
from extensions.audit.writer import AuditWriter
from extensions.errors import AtriumError
from extensions.logs import request_id_var
from extensions.request_body import buffer_body

__all__ = ["SIGNIN_ROUTES", "SigninCapture"]

log = logging.getLogger("atrium.audit")

# (method, path) -> (action, the body field naming who signs in)
SIGNIN_ROUTES: Final = {
    ("POST", "/login"): ("signin.password", "username"),
    ("POST", "/v2/login"): ("signin.password", "username"),
    ("POST", "/v3/login"): ("signin.password", "username"),
    ("POST", "/onboarding/claim_token"): ("invitation.accept", "user_id"),
}
_HOLD_CAP: Final = 256 * 1024  # login answers are a redirect or a small JSON body
# Why LiteLLM refused, by status (its message is not stored: it may quote what was sent).
_REASONS: Final = {
    400: "invalid_request",
    401: "invalid_credentials",
    403: "forbidden",
    404: "not_found",
    422: "invalid_request",
    429: "too_many_signin_attempts",
}


def _claimed(raw: bytes, content_type: str, field: str) -> str | None:
    """The username (or user id) the request names; only that field is ever read out of the body."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            values = parse_qs(raw.decode("utf-8"), max_num_fields=32).get(field)
            return bounded(values[0]) if values else None
        if content_type.startswith("application/json"):
            parsed = json.loads(raw)
            return bounded(parsed.get(field)) if isinstance(parsed, dict) else None
    except (ValueError, UnicodeDecodeError):
        return None
    return None  # multipart and others: who it was is not known


def _session_claims(start: Message) -> dict[str, Any] | None:
    """The verified claims of the ``token`` cookie the answer sets."""
    for name, value in start.get("headers", []):
        if name.lower() != b"set-cookie":
            continue
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value.decode("latin-1"))
        except CookieError:
            continue
        morsel = jar.get(litellm.UI_SESSION_COOKIE)
        if morsel is not None and morsel.value:
            return litellm.ui_session_claims(morsel.value)
    return None


async def _user_account(pool: Any, user_id: str) -> str:
    async with pool.acquire() as conn:
        found = await conn.fetchval('SELECT account_id FROM "LiteLLM_UserTable" WHERE user_id = $1', user_id)
    return str(found or "")


async def _claimed_account(pool: Any, claimed: str) -> str:
    """The account of the one user a refused username names (its id or email), else ""."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            'SELECT DISTINCT account_id FROM "LiteLLM_UserTable" WHERE user_id = $1 OR lower(user_email) = lower($1)',
            claimed,
        )
    accounts = {row["account_id"] for row in rows}
    return str(accounts.pop() or "") if len(accounts) == 1 else ""


class SigninCapture:
    """ASGI middleware: only LiteLLM's sign-in routes (:data:`SIGNIN_ROUTES`) are looked at."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = SIGNIN_ROUTES.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        action, field = found
        raw, receive = await buffer_body(receive)
        headers = Headers(scope=scope)
        claimed = _claimed(raw, headers.get("content-type", ""), field)
        client = scope.get("client")
        attempt = SigninAttempt(action, "POST", scope["path"], headers, client[0] if client else None)

        async def record(start: Message, body: bytes) -> AtriumError | None:
            return await self._record(attempt, start, claimed)

        await self.app(scope, receive, held_until_recorded(send, _HOLD_CAP, record))

    async def _record(self, attempt: SigninAttempt, start: Message, claimed: str | None) -> AtriumError | None:
        """Write the entry; the error to answer instead of a success whose entry was not written."""
        status = int(start["status"])
        token = request_id_var.set(AuditedRequest.request_id(start) or "")
        try:
            writer = signin_writer()
            if status >= 400:
                if claimed is not None:
                    attempt.target(account_id=await _claimed_account(writer.pool, claimed))
                    attempt.target(**({"email": claimed} if "@" in claimed else {"user_id": claimed}))
                await attempt.refused(status, _REASONS.get(status, "error"))
                return None
            claims = _session_claims(start) or {}
            # Without a cookie (/v3/login answers a one-time code; the claim sets a password) the name
            # LiteLLM just verified stands for the user.
            user_id = bounded(claims.get("user_id")) or (claimed if claimed and "@" not in claimed else None)
            email = bounded(claims.get("user_email")) or (claimed if claimed and "@" in claimed else None)
            account = (
                await _user_account(writer.pool, user_id)
                if user_id
                else await _claimed_account(writer.pool, email or "")
            )
            actor = Actor(kind="user", user_id=user_id, email=email, role=bounded(claims.get("user_role")))
            await attempt.write(account, actor, "success", status, (user_id,) if user_id else (), {})
        except AtriumError as exc:
            return exc if status < 400 else None
        except Exception:
            log.error("sign-in audit entry not built", exc_info=True)
            return AuditWriter.failure(AuditedRequest.request_id(start)) if status < 400 else None
        finally:
            request_id_var.reset(token)
        return None
