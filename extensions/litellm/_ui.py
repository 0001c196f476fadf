"""LiteLLM's admin-UI sessions: the dashboard team, session minting and the session cookie.

A UI session is a virtual key in team ``litellm-dashboard`` wrapped in an HS256 JWT signed
with the master key and sent as the ``token`` cookie. Atrium mints sessions exactly as
LiteLLM's own logins do, and reads the key back out of the cookie to decide the tenant.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any, Final

from extensions.litellm._auth import master_key
from extensions.litellm._base import Internal, package_dir, proxy_server

__all__ = [
    "INTERNALS",
    "UI_SESSION_COOKIE",
    "UI_SESSION_TEAM",
    "mint_ui_session",
    "set_ui_session_cookie",
    "ui_export_dir",
    "ui_session_claims",
    "ui_session_key",
]

UI_SESSION_TEAM: Final = "litellm-dashboard"  # the team LiteLLM's logins put UI session keys in
UI_SESSION_COOKIE: Final = "token"  # set by `set_session_token_cookie`, read by LiteLLM's UI auth
# The admin UI's static export the proxy serves at /ui (one directory per page, each an index.html).
_UI_EXPORT: Final = ("proxy", "_experimental", "out")

INTERNALS: tuple[Internal, ...] = (
    Internal("litellm.proxy.management_endpoints.key_management_endpoints", "generate_key_helper_fn"),
    Internal(
        "litellm.proxy.auth.login_utils",
        "LoginResult",
        ("user_id", "key", "user_email", "user_role", "login_method", "password_reset_required"),
    ),
    Internal(
        "litellm.proxy.auth.login_utils", "create_ui_token_object", ("login_result", "general_settings", "premium_user")
    ),
    Internal("litellm.proxy.auth.login_utils", "encode_ui_session_jwt", ("returned_ui_token_object", "master_key")),
    Internal(
        "litellm.proxy.management_endpoints.ui_sso", "set_session_token_cookie", ("response", "request", "jwt_token")
    ),
    Internal("litellm.proxy.proxy_server", "general_settings"),
    Internal("litellm.proxy.proxy_server", "premium_user"),
    Internal("litellm.constants", "LITELLM_UI_SESSION_DURATION"),
    Internal("litellm", "max_ui_session_budget"),
    # Where the proxy serves /ui from; ui_export_dir() spells the same path without importing the proxy.
    Internal("litellm.proxy.proxy_server", "packaged_ui_path"),
)


async def mint_ui_session(*, user_id: str, user_email: str | None, user_role: str) -> tuple[str, str]:
    """A LiteLLM admin-UI session for an already provisioned user: ``(virtual key, signed cookie JWT)``.

    The same steps as LiteLLM's ``/login`` and SSO callback: a virtual key in team
    ``litellm-dashboard`` for LITELLM_UI_SESSION_DURATION, wrapped by ``create_ui_token_object``
    and ``encode_ui_session_jwt`` (HS256, master key), so the UI and LiteLLM's auth accept it.
    """
    server = proxy_server()
    login = importlib.import_module("litellm.proxy.auth.login_utils")
    keys = importlib.import_module("litellm.proxy.management_endpoints.key_management_endpoints")
    litellm = importlib.import_module("litellm")
    duration = importlib.import_module("litellm.constants").LITELLM_UI_SESSION_DURATION
    response = await keys.generate_key_helper_fn(
        request_type="key",
        duration=duration,
        key_max_budget=litellm.max_ui_session_budget,
        spend=0,
        user_id=user_id,
        team_id=UI_SESSION_TEAM,
        user_role=user_role,
        metadata={"login_method": "sso"},
    )
    key: str = response["token"]
    result = login.LoginResult(
        user_id=user_id,
        key=key,
        user_email=user_email,
        user_role=user_role,
        login_method="sso",
        password_reset_required=False,
    )
    token_object = login.create_ui_token_object(
        login_result=result, general_settings=server.general_settings, premium_user=server.premium_user
    )
    jwt_token: str = login.encode_ui_session_jwt(token_object, server.master_key or "")
    return key, jwt_token


def set_ui_session_cookie(response: Any, request: Any, jwt_token: str) -> None:
    """LiteLLM's own ``token`` cookie (not HttpOnly: the UI reads it; Secure behind HTTPS)."""
    importlib.import_module("litellm.proxy.management_endpoints.ui_sso").set_session_token_cookie(
        response, request, jwt_token
    )


def ui_session_claims(jwt_token: str) -> dict[str, Any] | None:
    """The claims of a UI session JWT (``user_id``, ``user_email``, ``user_role``, ``key``, ...), or
    None unless its signature verifies.

    Before start-up LiteLLM has not read the master key yet, so the environment stands in.
    """
    master = master_key() or os.environ.get("LITELLM_MASTER_KEY")
    if not jwt_token or not master:
        return None
    from authlib.jose import JoseError, jwt  # imported when needed: authlib.jose warns on import

    try:
        claims = jwt.decode(jwt_token, master)
        claims.validate()
    except (JoseError, ValueError):
        return None
    return dict(claims)


def ui_session_key(headers: Mapping[str, str]) -> str | None:
    """The virtual key inside LiteLLM's UI session cookie, or None unless its signature verifies."""
    cookie = headers.get("cookie")
    if not cookie or f"{UI_SESSION_COOKIE}=" not in cookie:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie)
    except CookieError:
        return None
    morsel = jar.get(UI_SESSION_COOKIE)
    claims = ui_session_claims(morsel.value) if morsel is not None else None
    key = claims.get("key") if claims else None
    return key if isinstance(key, str) else None


def ui_export_dir() -> Path:
    """The admin UI's static export as installed; its directories are the UI's pages."""
    return package_dir("litellm").joinpath(*_UI_EXPORT)
