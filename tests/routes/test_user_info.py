"""``GET /user/info`` answers a tenant its own user as LiteLLM would, and an admin its account's users.

LiteLLM 1.108.7 answers any caller 200 for its own user (``user_id``, ``user_info``, ``keys``,
``teams``); Atrium used to refuse the route to every tenant principal (403). An account admin
may name another user of its account (LiteLLM's proxy-admin view, within the account); a member
naming another user gets LiteLLM's 403; another account's user is 404 (the reference check).
The admin view without ``user_id`` is tested in ``test_ui_lists.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account


@pytest.fixture(scope="module")
def worlds(proxy: ProxyProcess, master_key: str) -> Iterator[tuple[AccountWorld, AccountWorld]]:
    yield build_account(proxy.base_url, master_key, "uia"), build_account(proxy.base_url, master_key, "uib")


def _get(proxy: ProxyProcess, key: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{proxy.base_url}/user/info", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def _principals(world: AccountWorld) -> dict[str, tuple[str, str]]:
    return {
        "account-admin": (world.admin_key, world.admin_user),
        "member-key": (world.member_key, world.member_user),
        "ui-session": (world.ui_session_key, f"{world.slug}-ui"),
    }


@pytest.mark.parametrize("principal", ["account-admin", "member-key", "ui-session"])
@pytest.mark.parametrize("named", [True, False])
def test_own_user_is_litellms_body_scoped_to_the_account(
    proxy: ProxyProcess, worlds: tuple[AccountWorld, AccountWorld], principal: str, named: bool
) -> None:
    world, other = worlds
    key, user = _principals(world)[principal]
    response = _get(proxy, key, **({"user_id": user} if named else {}))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"user_id", "user_info", "keys", "teams"}
    assert body["user_id"] == user and body["user_info"]["user_id"] == user
    assert "password" not in body["user_info"]
    assert body["keys"], "the user's own keys are listed"
    if principal == "account-admin" and not named:
        # LiteLLM's proxy-admin view, over the account: every key of it (test_ui_lists.py).
        assert world.member_token in {k["token"] for k in body["keys"]}
    else:
        assert all(k.get("user_id") == user for k in body["keys"])
    if principal == "member-key":
        assert world.member_token in {k["token"] for k in body["keys"]}
        assert [t["team_id"] for t in body["teams"]] == [world.team_id]
    assert not any(canary in response.text for canary in other.canaries), response.text[:500]


@pytest.mark.parametrize("principal", ["account-admin", "member-key", "ui-session"])
def test_another_users_id_is_the_accounts_admins_only(
    proxy: ProxyProcess, worlds: tuple[AccountWorld, AccountWorld], principal: str
) -> None:
    world, other = worlds
    key, _ = _principals(world)[principal]
    same_account = world.member_user if principal != "member-key" else world.admin_user
    answer = _get(proxy, key, user_id=same_account)
    if principal == "account-admin":
        assert answer.status_code == 200 and answer.json()["user_id"] == same_account, answer.text
    else:
        assert answer.status_code == 403, answer.text  # LiteLLM's own refusal of a non-admin
        assert same_account not in str(answer.json().get("user_info", ""))
    foreign = _get(proxy, key, user_id=other.member_user)
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["error"]["code"] == "not_found"


def test_a_team_key_has_no_user_to_describe(proxy: ProxyProcess, worlds: tuple[AccountWorld, AccountWorld]) -> None:
    world, _ = worlds
    admin = world.client(proxy.base_url, world.admin_key)
    team_key = admin.post("/key/generate", json={"team_id": world.team_id}).json()["key"]
    response = _get(proxy, team_key)
    assert response.status_code == 404, response.text
    assert _get(proxy, team_key, user_id=world.member_user).status_code == 403


def test_the_super_admin_keeps_litellms_handler(
    proxy: ProxyProcess, master_key: str, worlds: tuple[AccountWorld, AccountWorld]
) -> None:
    world, other = worlds
    for user in (world.member_user, other.member_user):
        response = _get(proxy, master_key, user_id=user)
        assert response.status_code == 200 and response.json()["user_id"] == user, response.text
