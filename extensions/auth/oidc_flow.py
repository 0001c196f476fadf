"""The OIDC authorization-code flow with PKCE (S256), state and nonce, done by authlib.

``start`` stores state, nonce and the PKCE verifier server-side (``Atrium_LoginState``) and
returns the IdP's authorization URL. ``finish`` consumes that row exactly once (DELETE ...
RETURNING, so a replay on any worker or replica finds nothing), exchanges the code and
validates the id_token. Every IdP call has a short timeout and ends as
:class:`IdpUnreachable` (504 timeout, 502 otherwise) rather than hanging the login.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from extensions.auth.errors import IdpUnreachable, LoginRejected
from extensions.auth.id_token import validate_id_token
from extensions.auth.oidc_config import OidcConfig
from extensions.egress import EgressRefused
from extensions.egress.transport import guarded_transport, guarded_transport_httpx2

__all__ = ["LOGIN_STATE_TTL", "LoginState", "OidcFlow", "idp_timeout"]

log = logging.getLogger("atrium.auth.oidc")

LOGIN_STATE_TTL = timedelta(minutes=10)
_METADATA_TTL = 300.0


def _authlib_http_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(transport errors, timeouts) of the HTTP client authlib uses: httpx2 when installed, else httpx."""
    errors: list[type[Exception]] = [httpx.HTTPError]
    timeouts: list[type[Exception]] = [httpx.TimeoutException]
    try:
        import httpx2  # authlib >= 1.7 talks to the token endpoint through httpx2, not httpx
    except ImportError:
        pass
    else:
        errors.append(httpx2.HTTPError)
        timeouts.append(httpx2.TimeoutException)
    return tuple(errors), tuple(timeouts)


_HTTP_ERRORS, _TIMEOUTS = _authlib_http_errors()


def idp_timeout() -> float:
    return float(os.environ.get("ATRIUM_OIDC_TIMEOUT") or 5)


@dataclass(frozen=True)
class LoginState:
    state: str
    account_id: str
    nonce: str
    code_verifier: str
    redirect_uri: str


def _unreachable(what: str, url: str, exc: Exception) -> IdpUnreachable:
    error = IdpUnreachable(
        f"identity provider unreachable: {what} at {url} failed ({type(exc).__name__})",
        hint="check that the IdP is up and the account's issuer / discovery URL is right; no session was created",
    )
    if isinstance(exc, _TIMEOUTS):
        error.status = 504
    return error


class OidcFlow:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        # Discovery documents and key sets, per URL: IdPs publish them for caching.
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def _get_json(self, url: str, what: str, *, fresh: bool = False) -> dict[str, Any]:
        cached = self._cache.get(url)
        if cached is not None and cached[0] > time.monotonic() and not fresh:
            return cached[1]
        try:
            # Every hop (redirects included) goes through the egress policy: an account's IdP
            # URLs must not reach the metadata service or the gateway's own network.
            async with httpx.AsyncClient(
                timeout=idp_timeout(), transport=guarded_transport(what), follow_redirects=True, max_redirects=5
            ) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except EgressRefused as exc:
            raise _unreachable(what, url, exc) from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise _unreachable(what, url, exc) from exc
        if not isinstance(body, dict):
            raise _unreachable(what, url, ValueError("not a JSON object"))
        self._cache[url] = (time.monotonic() + _METADATA_TTL, body)
        return body

    async def metadata(self, config: OidcConfig) -> dict[str, Any]:
        meta = await self._get_json(config.metadata_url, "discovery")
        if meta.get("issuer") != config.issuer:
            raise IdpUnreachable(
                f"the discovery document names issuer {meta.get('issuer')!r}, not {config.issuer!r}",
                hint="the account's issuer must equal the IdP's issuer exactly",
            )
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(field), str):
                raise IdpUnreachable(f"the discovery document has no {field}", hint="check the IdP's discovery URL")
        return meta

    def _client(self, config: OidcConfig, redirect_uri: str, secret: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=secret,
            scope=config.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=idp_timeout(),
            transport=guarded_transport_httpx2("token_endpoint"),
        )

    async def start(self, config: OidcConfig, redirect_uri: str, login_hint: str | None) -> str:
        meta = await self.metadata(config)
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        await self.pool.execute(
            'INSERT INTO "Atrium_LoginState" (state, account_id, nonce, code_verifier, redirect_uri, expires_at) '
            "VALUES ($1, $2, $3, $4, $5, $6)",
            state,
            config.account_id,
            nonce,
            verifier,
            redirect_uri,
            (datetime.now(UTC) + LOGIN_STATE_TTL).replace(tzinfo=None),
        )
        # Old, never-finished starts go with each new one; no background job needed.
        await self.pool.execute("DELETE FROM \"Atrium_LoginState\" WHERE expires_at < now() - interval '1 hour'")
        extra = {"login_hint": login_hint} if login_hint else {}
        async with self._client(config, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier, **extra
            )
        return str(url)

    async def consume_state(self, state: str) -> LoginState:
        """The stored login state, deleted in the same statement: usable exactly once."""
        row = await self.pool.fetchrow('DELETE FROM "Atrium_LoginState" WHERE state = $1 RETURNING *', state)
        if row is None:
            raise LoginRejected(
                "unknown or already used login state",
                hint="start the sign-in again from the login page; a callback URL works only once",
                reason="state_invalid",
            )
        if row["expires_at"] < datetime.now(UTC).replace(tzinfo=None):
            raise LoginRejected(
                "the login attempt expired", hint="start the sign-in again from the login page", reason="state_expired"
            )
        return LoginState(row["state"], row["account_id"], row["nonce"], row["code_verifier"], row["redirect_uri"])

    async def finish(self, config: OidcConfig, login: LoginState, code: str) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the validated id_token claims."""
        meta = await self.metadata(config)
        token_url = meta["token_endpoint"]
        try:
            async with self._client(config, login.redirect_uri, config.client_secret()) as client:
                token = await client.fetch_token(token_url, code=code, code_verifier=login.code_verifier)
        except OAuthError as exc:
            raise LoginRejected(
                f"the identity provider refused the authorization code ({exc.error})",
                hint="codes are single-use and short-lived: start the sign-in again",
                reason="code_refused",
            ) from exc
        except EgressRefused as exc:
            raise _unreachable("token exchange", token_url, exc) from exc
        except _HTTP_ERRORS as exc:
            raise _unreachable("token exchange", token_url, exc) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise LoginRejected(
                "the identity provider returned no id_token", hint="request the openid scope", reason="id_token_missing"
            )
        validate = functools.partial(
            validate_id_token,
            id_token,
            issuer=config.issuer,
            client_id=config.client_id,
            nonce=login.nonce,
            access_token=token.get("access_token"),
            metadata_algs=meta.get("id_token_signing_alg_values_supported"),
        )
        jwks = await self._get_json(meta["jwks_uri"], "JWKS")
        try:
            return validate(jwks=jwks)
        except LoginRejected:
            # The IdP may have rotated its keys since we cached them: one fresh look, then fail.
            fresh = await self._get_json(meta["jwks_uri"], "JWKS", fresh=True)
            if fresh == jwks:
                raise
            return validate(jwks=fresh)
