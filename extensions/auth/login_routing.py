"""Email-first login: which way does this address sign in, and where does it go next?

An email whose domain belongs to an account with enabled SSO goes to that account's IdP;
every other address (unknown domain, or an account without SSO) gets the very same
password answer, so the answer never tells which domains exist.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode

from extensions.auth.oidc_config import OidcConfigStore
from extensions.errors import RequestError

__all__ = ["PASSWORD_LOGIN_URL", "login_page", "normalise_email", "resolve_login"]

PASSWORD_LOGIN_URL = "/ui/login"  # LiteLLM's own login page (POST /login, /v2/login)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{3,253}$")


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned):
        raise RequestError(f"{email!r} is not an email address", hint="enter the address you sign in with")
    return cleaned


async def resolve_login(configs: OidcConfigStore, email: str) -> dict[str, Any]:
    email = normalise_email(email)
    account_id = await configs.account_for_email(email)
    config = await configs.get(account_id) if account_id else None
    domain = email.rsplit("@", 1)[1]
    if config is not None and config.enabled and domain in config.allowed_domains:
        return {"method": "sso", "redirect_url": "/atrium/sso/start?" + urlencode({"email": email})}
    return {"method": "password", "redirect_url": PASSWORD_LOGIN_URL}


def login_page(error: str | None = None) -> str:
    """The email-first page: one field, posted back to /atrium/login (no JavaScript needed)."""
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;background:#f5f6f8;display:flex;justify-content:center;padding-top:12vh}}
form{{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:22rem}}
input,button{{width:100%;box-sizing:border-box;padding:.6rem;margin-top:.6rem;font-size:1rem}}
.error{{color:#b00020}}
</style></head>
<body><form method="post" action="/atrium/login">
<h1>Sign in</h1>{message}
<label for="email">Work email</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus>
<button id="continue" type="submit">Continue</button>
</form></body></html>"""
