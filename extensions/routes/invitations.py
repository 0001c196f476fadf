"""``/atrium/invitation/*``: account admins invite by email; invitees accept once and land in the account.

Creating and listing are account-admin routes. Accepting is public: the one-time token in
the link is the credential, checked against the account named in the same link. An
account with SSO for the invitee's domain sends them on to its IdP; otherwise they choose
a password (LiteLLM's own hash, so LiteLLM's ``/login`` works afterwards) and get a session.
"""

from __future__ import annotations

import asyncio
import html
import os
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from extensions import litellm
from extensions.audit.signins import SigninAttempt, audited_signin
from extensions.auth.errors import InvitationInvalid, MailFailed
from extensions.auth.invitations import Invitation, InvitationStore, invitation_ttl_hours
from extensions.auth.mailer import send_invitation, smtp_settings
from extensions.auth.service import IdentityServices, identity_services
from extensions.auth.sessions import Identity, check_account_active, mint_session_redirect, provision
from extensions.auth.throttle import Purpose, SigninGuard, claimed_account_key, request_guard
from extensions.errors import NotFound
from extensions.routes.deps import IdentityAdmin, require_database
from extensions.routes.errors import AtriumRoute
from extensions.tenancy.accounts.store import Account

__all__ = ["get_invitations_router"]

MIN_PASSWORD = 8


class InvitationNew(BaseModel):
    email: str = Field(max_length=320, description="Who to invite")
    role: str = Field("member", max_length=32, description="admin or member")


def _store(services: IdentityServices) -> InvitationStore:
    return InvitationStore(services.pool)


def _accept_link(request: Request, account: Account, token: str) -> str:
    base = os.environ.get("ATRIUM_PUBLIC_URL") or str(request.base_url)
    return base.rstrip("/") + "/atrium/invitation/accept?" + urlencode({"account": account.slug, "token": token})


async def _account(services: IdentityServices, ref: str, guard: SigninGuard, attempt: SigninAttempt) -> Account:
    try:
        account = await services.accounts.get(ref)
    except NotFound as exc:
        await guard.account(claimed_account_key(None, "slug:" + ref))
        raise InvitationInvalid(
            "this invitation link is not valid", hint="ask your account admin for a new one"
        ) from exc
    attempt.target(account_id=account.account_id)
    await guard.account(account.account_id)
    await check_account_active(services.pool, account.account_id)
    return account


async def _accepted(attempt: SigninAttempt, invitation: Invitation, identity: Identity, status: int) -> None:
    """The acceptance's entry, written before the answer (a redirect, or the session) leaves."""
    details = {"invitation_id": invitation.id, "role": invitation.role}
    await attempt.succeeded(
        user_id=identity.user_id,
        email=identity.email,
        role=identity.user_role,
        account_id=invitation.account_id,
        status=status,
        details=details,
    )


async def _join(services: IdentityServices, invitation: Invitation) -> Identity:
    identity = await provision(
        services.pool, services.accounts, account_id=invitation.account_id, email=invitation.email, role=None
    )
    if invitation.role == "admin":
        await services.accounts.add_admin(
            invitation.account_id, identity.user_id, "admin", f"invitation:{invitation.id}"
        )
        identity = Identity(identity.user_id, identity.email, litellm.ROLE_PROXY_ADMIN, identity.account_id)
    await _store(services).mark_user(invitation.id, identity.user_id)
    return identity


def _password_page(account: Account, token: str, email: str, error: str | None = None) -> str:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Join {html.escape(account.name)}</title></head><body><form method="post" action="/atrium/invitation/accept">
<h1>Join {html.escape(account.name)}</h1>{message}<p>{html.escape(email)}</p>
<input type="hidden" name="account" value="{html.escape(account.slug)}">
<input type="hidden" name="token" value="{html.escape(token)}">
<label for="password">Choose a password (at least {MIN_PASSWORD} characters)</label>
<input id="password" name="password" type="password" autocomplete="new-password" required>
<button id="accept" type="submit">Join</button></form></body></html>"""


def get_invitations_router() -> APIRouter:
    router = APIRouter(
        prefix="/atrium/invitation",
        tags=["Atrium identity"],
        dependencies=[Depends(require_database)],
        route_class=AtriumRoute,
    )

    @router.post("/new", summary="Invite someone to the account by email (one-time, expiring link)")
    async def invitation_new(body: InvitationNew, request: Request, ctx: IdentityAdmin) -> dict[str, Any]:
        assert ctx.account_id is not None
        services = identity_services()
        account = await services.accounts.get(ctx.account_id)
        settings = smtp_settings(account.settings)  # fails before anything is stored
        hours = invitation_ttl_hours()
        invitation, token = await _store(services).create(
            account.account_id, body.email, body.role, ctx.user_id or "master_key", hours
        )
        try:
            await send_invitation(
                settings, to=invitation.email, account_name=account.name, link=_accept_link(request, account, token),
                hours=hours,
            )  # fmt: skip
        except MailFailed:
            await _store(services).discard(invitation.id)
            raise
        return {**invitation.public(), "sent": True}

    @router.get("/list", summary="The account's invitations (tokens are never shown)")
    async def invitation_list(ctx: IdentityAdmin) -> dict[str, list[dict[str, Any]]]:
        assert ctx.account_id is not None
        return {"invitations": [i.public() for i in await _store(identity_services()).list(ctx.account_id)]}

    @router.get("/accept", summary="Open an invitation link", response_model=None)
    async def invitation_open(
        request: Request, account: str = Query(max_length=128), token: str = Query(max_length=512)
    ) -> Response:
        async with (
            audited_signin(request, "invitation.accept", "/atrium/invitation/accept") as attempt,
            request_guard(Purpose.INVITATION, request) as guard,
        ):
            services = identity_services()
            target = await _account(services, account, guard, attempt)
            store = _store(services)
            invitation = await store.check(target.account_id, token)
            attempt.target(email=invitation.email)
            config = await services.configs.get(target.account_id)
            domain = invitation.email.rsplit("@", 1)[1]
            if config is not None and config.enabled and domain in config.allowed_domains:
                # SSO accounts: the IdP proves who this is; the invitation only places them in the account.
                used = await store.consume(target.account_id, token)
                await _accepted(attempt, used, await _join(services, used), 303)
                return RedirectResponse("/atrium/sso/start?" + urlencode({"email": invitation.email}), status_code=303)
            return HTMLResponse(_password_page(target, token, invitation.email))  # not used up yet: no entry

    @router.post("/accept", summary="Accept an invitation with a new password", response_model=None)
    async def invitation_accept(
        request: Request,
        account: str = Form(..., max_length=128),
        token: str = Form(..., max_length=512),
        password: str = Form(..., max_length=1024),
    ) -> Response:
        async with audited_signin(request, "invitation.accept", "/atrium/invitation/accept") as attempt:
            async with request_guard(Purpose.INVITATION, request) as guard:
                services = identity_services()
                target = await _account(services, account, guard, attempt)
                store = _store(services)
                if len(password) < MIN_PASSWORD:
                    invitation = await store.check(target.account_id, token)
                    attempt.target(email=invitation.email)
                    page = _password_page(target, token, invitation.email, f"use at least {MIN_PASSWORD} characters")
                    await attempt.refused(400, "password_too_short")
                    return HTMLResponse(page, status_code=400)
                used = await store.consume(target.account_id, token)
                attempt.target(email=used.email)
                identity = await _join(services, used)
            hashed = await asyncio.to_thread(litellm.hash_password, password)  # scrypt: off the event loop
            await services.pool.execute(
                'UPDATE "LiteLLM_UserTable" SET password = $2 WHERE user_id = $1', identity.user_id, hashed
            )
            response = await mint_session_redirect(request, identity)
            await _accepted(attempt, used, identity, response.status_code)
            return response

    return router
