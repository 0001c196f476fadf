"""Public sign-in routes: email-first login, per-account SSO, trusted header.

They run without a tenant principal (route class ``public``), so each handler enforces
everything itself, and every failure raises before a key is minted or a cookie is set.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from extensions.audit.signins import SigninAttempt, audited_signin
from extensions.auth.errors import LoginRejected, SsoNotConfigured
from extensions.auth.login_routing import login_page, normalise_email, resolve_login
from extensions.auth.oidc_config import OidcConfig
from extensions.auth.oidc_flow import LoginState
from extensions.auth.service import IdentityServices, identity_services
from extensions.auth.sessions import (
    Identity,
    check_account_active,
    mint_session_redirect,
    provision,
    provision_super_admin,
    super_admin_emails,
)
from extensions.auth.throttle import Purpose, SigninGuard, claimed_account_key, request_guard
from extensions.auth.trusted_header import trusted_email
from extensions.errors import AtriumError, NotFound, RequestError
from extensions.routes.deps import require_database
from extensions.routes.errors import AtriumRoute

__all__ = ["get_identity_router"]

log = logging.getLogger("atrium.auth")

EMAIL_MAX = 320  # RFC 5321: 64 local + @ + 255 domain


class ResolveIn(BaseModel):
    email: str = Field(max_length=EMAIL_MAX)


def _callback_url(request: Request) -> str:
    base = os.environ.get("ATRIUM_PUBLIC_URL") or str(request.base_url)
    return base.rstrip("/") + "/atrium/sso/callback"


def role_from_claims(config: OidcConfig, claims: dict[str, Any]) -> str | None:
    """admin / member from the configured claim; None (keep the current role) without a mapping."""
    if not config.admin_values:
        return None
    value = claims.get(config.role_claim)
    values = value if isinstance(value, list) else [value] if value is not None else []
    return "admin" if any(str(v) in config.admin_values for v in values) else "member"


async def _enabled_config(services: IdentityServices, account_id: str) -> OidcConfig:
    config = await services.configs.get(account_id)
    if config is None or not config.enabled:
        raise SsoNotConfigured("this account has no SSO enabled", hint="sign in with your password instead")
    return config


async def _identity_for(services: IdentityServices, account_id: str, email: str, role: str | None) -> Identity:
    """Check the email against the account, then provision (the one path for SSO and trusted header)."""
    owner = await services.configs.account_for_email(email)
    if owner != account_id:
        raise LoginRejected(
            f"{email} is not an address of this account",
            hint="sign in with your work email of this account; no session was created",
            reason="email_not_of_account",
        )
    return await provision(services.pool, services.accounts, account_id=account_id, email=email, role=role)


async def _sso_redirect(request: Request, email: str | None, account: str | None) -> str:
    services = identity_services()
    hint: str | None = None
    if email:
        hint = normalise_email(email)
        account_id = await services.configs.account_for_email(hint)
    else:
        account_id = (await services.accounts.get(str(account))).account_id
    config = await services.configs.get(account_id) if account_id else None
    domain = hint.rsplit("@", 1)[1] if hint else None
    if config is None or not config.enabled or (domain is not None and domain not in config.allowed_domains):
        raise SsoNotConfigured("no SSO for this address", hint="sign in with your password at /ui/login")
    await check_account_active(services.pool, config.account_id)
    return await services.flow.start(config, _callback_url(request), hint)


async def _callback_identity(
    services: IdentityServices, login: LoginState, code: str, iss: str | None, attempt: SigninAttempt
) -> Identity:
    """The callback's checks after the state: issuer, account, id_token, email; then provisioning."""
    config = await _enabled_config(services, login.account_id)
    if iss is not None and iss != config.issuer:
        # RFC 9207: the response names the IdP that sent it; another IdP's code is a mix-up attack.
        raise LoginRejected(
            f"the response comes from issuer {iss!r}", hint="start the sign-in again", reason="issuer_mismatch"
        )
    await check_account_active(services.pool, login.account_id)
    claims = await services.flow.finish(config, login, code)
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise LoginRejected(
            "the id_token carries no email", hint="request the email scope at the IdP", reason="email_missing"
        )
    email = normalise_email(email)
    attempt.target(email=email)
    if email.rsplit("@", 1)[1] not in config.allowed_domains:
        raise LoginRejected(
            f"{email} is outside the domains this account allows",
            hint="sign in with an address of an allowed domain; no session was created",
            reason="domain_not_allowed",
        )
    if email in super_admin_emails() and config.super_admin_trusted:
        return await provision_super_admin(services.pool, email)
    return await _identity_for(services, login.account_id, email, role_from_claims(config, claims))


async def _by_email(guard: SigninGuard, email: str) -> None:
    """Check (and count) the account of ``email``'s domain; a malformed address counts for the address only."""
    try:
        cleaned = normalise_email(email)
    except RequestError:
        return  # the handler refuses it
    account_id = await identity_services().configs.account_for_email(cleaned)
    await guard.account(claimed_account_key(account_id, cleaned.rsplit("@", 1)[1]))


async def _slug_key(ref: str) -> str:
    try:
        account_id: str | None = (await identity_services().accounts.get(ref)).account_id
    except NotFound:
        account_id = None
    return claimed_account_key(account_id, "slug:" + ref)


async def _signed_in(request: Request, attempt: SigninAttempt, identity: Identity) -> RedirectResponse:
    """The session, handed out only once its audit entry is written (else 500 and no cookie)."""
    response = await mint_session_redirect(request, identity)
    await attempt.succeeded(
        user_id=identity.user_id,
        email=identity.email,
        role=identity.user_role,
        account_id=identity.account_id,
        status=response.status_code,
    )
    return response


def get_identity_router() -> APIRouter:
    router = APIRouter(tags=["Atrium identity"], dependencies=[Depends(require_database)], route_class=AtriumRoute)

    @router.post("/v2/login/resolve", summary="Email-first login: password or the account's SSO, and where to go")
    async def login_resolve(body: ResolveIn, request: Request) -> dict[str, Any]:
        async with request_guard(Purpose.RESOLVE, request) as guard:
            await _by_email(guard, body.email)
            return await resolve_login(identity_services().configs, body.email)

    @router.get("/atrium/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_form() -> HTMLResponse:
        return HTMLResponse(login_page())

    @router.post("/atrium/login", include_in_schema=False)
    async def login_form_post(request: Request, email: str = Form("", max_length=EMAIL_MAX)) -> Response:
        try:
            async with request_guard(Purpose.RESOLVE, request) as guard:
                await _by_email(guard, email)
                answer = await resolve_login(identity_services().configs, email)
        except AtriumError as exc:
            return HTMLResponse(login_page(exc.message), status_code=exc.status, headers=exc.headers or None)
        return RedirectResponse(answer["redirect_url"], status_code=303)

    @router.get("/atrium/sso/start", summary="Redirect to the account's identity provider")
    async def sso_start(
        request: Request,
        email: str | None = Query(None, max_length=EMAIL_MAX),
        account: str | None = Query(None, max_length=128),
    ) -> RedirectResponse:
        async with request_guard(Purpose.SSO_START, request) as guard:
            if not email and not account:
                raise LoginRejected("say who signs in", hint="pass ?email=<your work email>")
            if email:
                await _by_email(guard, email)
            else:
                await guard.account(await _slug_key(str(account)))
            try:
                return RedirectResponse(await _sso_redirect(request, email, account), status_code=302)
            except AtriumError as exc:
                # Unauthenticated: an unknown slug or domain, an account without SSO, a suspended account
                # and an IdP that is down all get one answer, so none of them can be told apart. The
                # reason (with the IdP's URL) is for the operator's log only.
                log.info("sso start refused", extra={"code": exc.code, "reason": exc.message})
                raise SsoNotConfigured(
                    "single sign-on is not available for this address",
                    hint="sign in with your password at /ui/login, or ask your administrator",
                ) from exc

    @router.get("/atrium/sso/callback", summary="The identity provider's redirect back: mints the UI session")
    async def sso_callback(
        request: Request,
        state: str | None = Query(None, max_length=512),
        code: str | None = Query(None, max_length=4096),
        error: str | None = Query(None, max_length=128),
        error_description: str | None = Query(None, max_length=1024),
        iss: str | None = Query(None, max_length=2048),
    ) -> RedirectResponse:
        async with (
            audited_signin(request, "signin.sso", "/atrium/sso/callback") as attempt,
            request_guard(Purpose.SSO_CALLBACK, request) as guard,
        ):
            services = identity_services()
            if not state:
                raise LoginRejected(
                    "the callback carries no state",
                    hint="start the sign-in again from /atrium/login",
                    reason="state_missing",
                )
            login = await services.flow.consume_state(state)  # consumed even when the IdP reports an error
            attempt.target(account_id=login.account_id)
            await guard.account(login.account_id)
            if error:
                raise LoginRejected(
                    f"the identity provider refused the sign-in: {error}",
                    hint=error_description or "check your access at the IdP, then try again",
                    reason="idp_error",
                )
            if not code:
                raise LoginRejected(
                    "the callback carries no code", hint="start the sign-in again", reason="code_missing"
                )
            identity = await _callback_identity(services, login, code, iss, attempt)
            log.info("sso sign-in", extra={"user_id": identity.user_id, "account": identity.account_id})
            return await _signed_in(request, attempt, identity)

    @router.get("/atrium/login/proxy", summary="Sign in with the email an auth proxy forwards (trusted addresses only)")
    async def login_via_proxy(request: Request) -> RedirectResponse:
        async with (
            audited_signin(request, "signin.trusted_header", "/atrium/login/proxy") as attempt,
            request_guard(Purpose.TRUSTED_HEADER, request) as guard,
        ):
            services = identity_services()
            peer = request.client.host if request.client else None
            email = normalise_email(trusted_email(peer, dict(request.headers)))
            attempt.target(email=email)
            if email in super_admin_emails():
                identity = await provision_super_admin(services.pool, email)
            else:
                account_id = await services.configs.account_for_email(email)
                attempt.target(account_id=account_id)
                await guard.account(claimed_account_key(account_id, email.rsplit("@", 1)[1]))
                if account_id is None:
                    raise LoginRejected(
                        f"{email} belongs to no account",
                        hint="ask the super admin to add your domain",
                        reason="unknown_domain",
                    )
                identity = await _identity_for(services, account_id, email, None)
            return await _signed_in(request, attempt, identity)

    return router
