"""Build an account the way a customer would, through the real proxy's HTTP API.

Each account gets an admin (Atrium account admin with a key), a team, a member with a
key in that team, and some spend; with ``with_model`` also a provider credential and a model
of its own. Every identifier carries the account's ``canary`` prefix, so an isolation test
can scan any response for another account's canary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import openai

from extensions import litellm

__all__ = ["AccountWorld", "build_account"]


@dataclass
class AccountWorld:
    slug: str
    account_id: str
    admin_user: str
    admin_key: str
    admin_token: str
    team_id: str
    member_user: str
    member_key: str
    member_token: str
    ui_session_key: str  # the virtual key inside a member's admin-UI session cookie
    ui_session_cookie: str
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def canaries(self) -> list[str]:
        """Strings that must never appear in another account's responses."""
        return [self.account_id, self.team_id, self.admin_token, self.member_token, f"{self.slug}-"]

    def client(self, base_url: str, key: str) -> httpx.Client:
        return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise AssertionError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    body: dict[str, Any] = response.json()
    return body


def _ui_session(base_url: str, admin: httpx.Client, user_id: str, email: str) -> tuple[str, str]:
    """A member's admin-UI session, the way a person gets one: invitation, password, login."""
    import jwt

    _ok(
        admin.post("/user/new", json={"user_id": user_id, "user_email": email, "user_role": litellm.ROLE_INTERNAL_USER})
    )
    link = _ok(admin.post("/invitation/new", json={"user_id": user_id}))["id"]
    onboarding = _ok(httpx.get(f"{base_url}/onboarding/get_token", params={"invite_link": link}, timeout=30))
    onboarding_key = jwt.decode(onboarding["token"], options={"verify_signature": False})["key"]
    password = "Member-Pass-42!"
    _ok(
        httpx.post(
            f"{base_url}/onboarding/claim_token",
            headers={"Authorization": f"Bearer {onboarding_key}"},
            json={"invitation_link": link, "user_id": user_id, "password": password},
            timeout=30,
        )
    )
    login = httpx.post(f"{base_url}/v2/login", json={"username": email, "password": password}, timeout=30)
    _ok(login)
    cookie = login.cookies.get("token")
    if not cookie:
        raise AssertionError(f"login set no session cookie: {login.headers}")
    key: str = jwt.decode(cookie, options={"verify_signature": False})["key"]
    return key, cookie


def _account_model(admin: httpx.Client, slug: str, api_base: str) -> dict[str, Any]:
    """A credential and a model of the account's own, named and keyed with its canary."""
    credential = f"{slug}-cred"
    _ok(
        admin.post(
            "/credentials",
            json={"credential_name": credential, "credential_values": {"api_key": f"sk-{slug}-provider-secret"}},
        )
    )
    model = _ok(
        admin.post(
            "/model/new",
            json={
                "model_name": f"{slug}-model",
                "litellm_params": {
                    "model": "openai/gpt-fake",
                    "api_base": api_base,
                    "litellm_credential_name": credential,
                },
            },
        )
    )
    return {"model_id": model["model_info"]["id"], "credential_name": credential, "model_name": f"{slug}-model"}


def build_account(
    base_url: str,
    master_key: str,
    slug: str,
    model: str = "gpt-fake",
    extra_models: tuple[str, ...] = ("embed-fake",),
    *,
    with_model: bool = False,
) -> AccountWorld:
    root = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    account = _ok(
        root.post("/account/new", json={"name": slug.title(), "slug": slug, "email_domains": [f"{slug}.example"]})
    )
    account_id = account["account_id"]
    admin_user = f"{slug}-admin"
    _ok(root.post("/account/admin/add", json={"account_id": account_id, "user_id": admin_user}))
    acting = httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {master_key}", "X-Atrium-Account": account_id},
        timeout=30,
    )
    admin_key = _ok(acting.post("/key/generate", json={"user_id": admin_user, "key_alias": f"{slug}-admin-key"}))
    admin = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {admin_key['key']}"}, timeout=30)
    models = [model, *extra_models]
    team = _ok(admin.post("/team/new", json={"team_alias": f"{slug}-team", "models": models}))
    member_user = f"{slug}-member"
    _ok(
        admin.post(
            "/user/new",
            json={
                "user_id": member_user,
                "user_email": f"member@{slug}.example",
                "user_role": litellm.ROLE_INTERNAL_USER,
                "teams": [team["team_id"]],
            },
        )
    )
    member_key = _ok(
        admin.post(
            "/key/generate",
            json={
                "user_id": member_user,
                "team_id": team["team_id"],
                "models": models,
                "key_alias": f"{slug}-member-key",
            },
        )
    )
    ui_key, ui_cookie = _ui_session(base_url, admin, f"{slug}-ui", f"ui@{slug}.example")
    extras = _account_model(admin, slug, f"http://{slug}-provider.invalid/v1") if with_model else {}
    client = openai.OpenAI(api_key=member_key["key"], base_url=f"{base_url}/v1")
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"{slug} spend"}])
    return AccountWorld(
        slug=slug,
        account_id=account_id,
        admin_user=admin_user,
        admin_key=admin_key["key"],
        admin_token=admin_key["token"],
        team_id=team["team_id"],
        member_user=member_user,
        member_key=member_key["key"],
        member_token=member_key["token"],
        ui_session_key=ui_key,
        ui_session_cookie=ui_cookie,
        extras=extras,
    )
