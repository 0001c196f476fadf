"""LiteLLM's public onboarding routes honour an invitation only inside its own account.

``GET /onboarding/get_token`` and ``POST /onboarding/claim_token`` run without a principal
(public routes, the system context): LiteLLM looks the invitation up by id, then its user,
and mints a UI session / sets that user's password. Nothing there compares accounts, so an
invitation row that names another account's user (forged, or written before the reference
check existed) would hand over that user. The middleware calls :func:`check_onboarding`
first: the invitation's account must be its user's account and active, and the claimed
``user_id`` must be the invitation's. Refusals use LiteLLM's own error body.

A link is a credential, so wrong guesses (unknown or refused links) count against the sign-in
throttle per source address and per account, like Atrium's own invitation acceptance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Send

from extensions import litellm
from extensions.auth.throttle import Purpose, SigninGuard, SigninThrottled, signin_guard
from extensions.runtime import runtime
from extensions.tenancy.request.checks import REQUEST_ID_HEADER, Exchange, Reply, parsed_body

__all__ = ["ONBOARDING_ROUTES", "Onboarding", "OnboardingRefusal", "check_onboarding"]

ONBOARDING_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/onboarding/get_token"): "invite_link",
    ("POST", "/onboarding/claim_token"): "invitation_link",
}


class OnboardingRefusal(Exception):
    """Why an onboarding request is refused; rendered in LiteLLM's error shape by the middleware."""

    def __init__(self, message: str, status: int, param: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.headers = headers or {}


def _link(method: str, path: str, query_string: bytes, body: Any) -> tuple[str, Any]:
    param = ONBOARDING_ROUTES[(method, path)]
    if method == "GET":
        return param, dict(parse_qsl(query_string.decode("latin-1"))).get(param)
    return param, body.get(param) if isinstance(body, dict) else None


async def check_onboarding(
    method: str, path: str, query_string: bytes, body: Any, *, peer: str | None, headers: Mapping[str, str]
) -> None:
    """Raise :class:`OnboardingRefusal` unless the invitation may be used; unknown links pass
    (LiteLLM answers them itself). ``peer`` and ``headers`` give the source address to throttle."""
    if (method, path) not in ONBOARDING_ROUTES:
        return
    param, link = _link(method, path, query_string, body)
    if not isinstance(link, str) or not link:
        return  # LiteLLM rejects the malformed request itself
    try:
        async with signin_guard(Purpose.ONBOARDING, peer, headers) as guard:
            await _check(guard, method, body, param, link)
    except SigninThrottled as exc:
        # LiteLLM's own login throttle answers with this message; the UI shows it as is.
        raise OnboardingRefusal(
            "Too many failed sign-in attempts. Try again later.", 429, param, headers=exc.headers
        ) from exc


async def _check(guard: SigninGuard, method: str, body: Any, param: str, link: str) -> None:
    pool = runtime.pool
    if pool is None:
        raise OnboardingRefusal("Invitation link cannot be verified.", 503, param)
    row = await pool.fetchrow(
        "SELECT i.user_id, i.account_id AS invitation_account, u.account_id AS user_account, a.status "
        'FROM "LiteLLM_InvitationLink" i '
        'LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = i.user_id '
        'LEFT JOIN "Atrium_Account" a ON a.account_id = i.account_id '
        "WHERE i.id = $1",
        link,
    )
    if row is None:
        await guard.failed()  # LiteLLM answers the unknown link; it still is a wrong guess
        return
    if row["invitation_account"] is not None:
        await guard.account(row["invitation_account"])
    refusal = _refusal(row, method, body, param)
    if refusal is not None:
        await guard.failed()
        raise refusal


def _refusal(row: Any, method: str, body: Any, param: str) -> OnboardingRefusal | None:
    if row["invitation_account"] != row["user_account"]:
        return OnboardingRefusal("Invitation link does not exist.", 404, param)
    if row["invitation_account"] is not None and row["status"] != "active":
        return OnboardingRefusal("Invitation link does not exist.", 404, param)
    claimed = body.get("user_id") if isinstance(body, dict) else None
    if method == "POST" and claimed is not None and claimed != row["user_id"]:
        return OnboardingRefusal("Invitation link does not belong to this user.", 400, "user_id")
    return None


class Onboarding:
    """Invitations stay in their account, whoever presents the link."""

    def applies(self, ex: Exchange) -> bool:
        return not ex.is_ws and (ex.decision.method, ex.decision.path) in ONBOARDING_ROUTES

    async def run(self, ex: Exchange) -> Reply | None:
        parsed, ex.receive = await parsed_body(ex.scope, ex.headers, ex.receive, llm=False)
        try:
            peer = ex.scope["client"][0] if ex.scope.get("client") else None
            await check_onboarding(
                ex.decision.method,
                ex.decision.path,
                ex.scope.get("query_string", b""),
                parsed,
                peer=peer,
                headers=ex.headers,
            )
        except OnboardingRefusal as refusal:
            return _litellm_error(refusal, ex.request_id)
        return None


def _litellm_error(refusal: OnboardingRefusal, request_id: str) -> Reply:
    """A refusal on LiteLLM's own public routes, in LiteLLM's error body (the UI parses it)."""
    body = json.dumps(
        litellm.proxy_error_body(
            refusal.message, status=refusal.status, error_type="invalid_request_error", param=refusal.param
        )
    ).encode()

    async def reply(send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": refusal.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    # Retry-After of a throttled sign-in
                    *((name.lower().encode(), value.encode()) for name, value in refusal.headers.items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return reply
