"""Trusted-header sign-in behind an auth proxy: only from the configured proxy addresses."""

from __future__ import annotations

import httpx
import jwt
from identity_support import IdentityWorld, as_key

from extensions.testing.sso import session_cookie


def _via(world: IdentityWorld, email: str, **kwargs: object) -> httpx.Response:
    headers = {"X-Forwarded-Email": email, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    transport = kwargs.pop("transport", None)
    with httpx.Client(timeout=30, transport=transport) as client:  # type: ignore[arg-type]
        return client.get(f"{world.base_url}/atrium/login/proxy", headers=headers)


def test_header_from_the_trusted_proxy_signs_in_to_the_account(identity: IdentityWorld) -> None:
    response = _via(identity, identity.a.email("alice"))
    assert response.status_code == 303, response.text
    cookie = session_cookie(response)
    assert cookie
    key = jwt.decode(cookie, identity.master_key, algorithms=["HS256"])["key"]
    with as_key(identity, key) as alice:
        assert alice.get("/v2/user/info").json()["user_email"] == identity.a.email("alice")
        assert alice.get("/account/list").status_code == 403


def test_header_from_another_address_is_refused(identity: IdentityWorld) -> None:
    # Connect from 127.0.0.2: a loopback address that is not in ATRIUM_TRUSTED_PROXIES.
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    response = _via(identity, identity.a.email("alice"), transport=other)
    assert response.status_code == 401 and session_cookie(response) is None
    assert "not a trusted auth proxy" in response.json()["error"]["message"]


def test_spoofed_forwarded_for_is_refused(identity: IdentityWorld) -> None:
    response = _via(identity, identity.a.email("alice"), headers={"X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 401 and session_cookie(response) is None


def test_unknown_domain_is_refused(identity: IdentityWorld) -> None:
    response = _via(identity, "someone@unknown-domain-xyz.example")
    assert response.status_code == 401 and session_cookie(response) is None


def test_super_admin_email_through_the_proxy(identity: IdentityWorld) -> None:
    response = _via(identity, identity.a.email("boss"))
    assert response.status_code == 303
    key = jwt.decode(session_cookie(response) or "", identity.master_key, algorithms=["HS256"])["key"]
    with as_key(identity, key) as boss:
        assert boss.get("/account/list").status_code == 200
