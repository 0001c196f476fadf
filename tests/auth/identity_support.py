"""Shared by the identity tests: the world the package fixture builds, and sign-in helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from extensions.testing.idp import OidcIdp, SilentServer, TamperingIdp
from extensions.testing.smtp import MailCatcher
from extensions.testing.sso import browserless_client, idp_login, session_cookie

PASSWORD = "Idp-Pass-42!"


@dataclass
class SsoAccount:
    slug: str
    account_id: str
    domain: str
    client_id: str
    client_secret: str
    extras: dict[str, Any] = field(default_factory=dict)

    def email(self, local: str) -> str:
        return f"{local}@{self.domain}"


@dataclass
class IdentityWorld:
    base_url: str
    master_key: str
    idp_a: OidcIdp
    idp_b: OidcIdp
    tamper: TamperingIdp
    silent: SilentServer
    mail: MailCatcher
    a: SsoAccount
    b: SsoAccount
    t: SsoAccount  # behind the tampering front
    s: SsoAccount  # suspended during tests
    down: SsoAccount  # IdP that never answers
    closed: SsoAccount  # IdP port closed
    pw: SsoAccount  # password-only account (no SSO)

    def root(self, account: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.master_key}"}
        if account:
            headers["X-Atrium-Account"] = account
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def sso_session(world: IdentityWorld, email: str) -> tuple[httpx.Response, str]:
    """Email-first login through the IdP; the callback response and the session's virtual key."""
    with browserless_client() as client:
        resolved = client.post(f"{world.base_url}/v2/login/resolve", json={"email": email})
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["method"] == "sso"
        callback = idp_login(client, world.base_url + resolved.json()["redirect_url"], email, PASSWORD)
        response = client.get(callback)
    cookie = session_cookie(response)
    assert response.status_code == 303, response.text
    assert cookie, response.headers
    claims = jwt.decode(cookie, world.master_key, algorithms=["HS256"])
    return response, claims["key"]


def as_key(world: IdentityWorld, key: str) -> httpx.Client:
    return httpx.Client(base_url=world.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def account_admin_key(world: IdentityWorld, account: SsoAccount) -> str:
    """A key of an Atrium account admin of ``account`` (made once through the real API)."""
    if "admin_key" not in account.extras:
        admin_user = f"{account.slug}-admin"
        with world.root() as root:
            added = root.post("/account/admin/add", json={"account_id": account.account_id, "user_id": admin_user})
            assert added.status_code == 200, added.text
        with world.root(account.account_id) as acting:
            generated = acting.post("/key/generate", json={"user_id": admin_user})
            assert generated.status_code == 200, generated.text
        account.extras["admin_key"] = generated.json()["key"]
    key: str = account.extras["admin_key"]
    return key
