"""Per-account OIDC sign-in against real OpenID Providers: email-first routing, JIT users,
role mapping, super admins, sessions scoped to the account, two IdPs on one gateway."""

from __future__ import annotations

import httpx
import jwt
from identity_support import PASSWORD, IdentityWorld, SsoAccount, as_key, sso_session

from extensions.testing.sso import browserless_client, idp_login, session_cookie
from extensions.testing.tenants import _ui_session


def test_resolve_routes_sso_domains_to_their_idp(identity: IdentityWorld) -> None:
    with browserless_client() as client:
        answer = client.post(f"{identity.base_url}/v2/login/resolve", json={"email": identity.a.email("x")}).json()
    assert answer["method"] == "sso" and answer["redirect_url"].startswith("/atrium/sso/start?")


def test_unknown_and_password_domains_get_the_same_answer(identity: IdentityWorld) -> None:
    with browserless_client() as client:
        unknown = client.post(f"{identity.base_url}/v2/login/resolve", json={"email": "x@nowhere-at-all.example"})
        password_account = client.post(f"{identity.base_url}/v2/login/resolve", json={"email": identity.pw.email("x")})
    assert unknown.status_code == password_account.status_code == 200
    assert unknown.json() == password_account.json() == {"method": "password", "redirect_url": "/ui/login"}


def test_resolve_rejects_a_non_email(identity: IdentityWorld) -> None:
    with browserless_client() as client:
        response = client.post(f"{identity.base_url}/v2/login/resolve", json={"email": "not-an-email"})
    assert response.status_code == 400 and response.json()["error"]["hint"]


def test_sso_login_provisions_a_member_scoped_to_the_account(identity: IdentityWorld) -> None:
    response, key = sso_session(identity, identity.a.email("alice"))
    assert response.headers["location"].endswith("/ui/?login=success")
    with as_key(identity, key) as me:
        info = me.get("/v2/user/info")
        assert info.status_code == 200, info.text
        assert info.json()["user_email"] == identity.a.email("alice")
        assert info.json()["user_role"] == "internal_user"
        keys = me.get("/key/list")
        assert keys.status_code == 200
        # Members cannot manage the account's identity settings.
        refused = me.get("/atrium/sso/config")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "account_admin_required"


def test_second_login_reuses_the_user(identity: IdentityWorld) -> None:
    _, first = sso_session(identity, identity.a.email("alice"))
    _, second = sso_session(identity, identity.a.email("alice"))
    with as_key(identity, first) as one, as_key(identity, second) as two:
        assert one.get("/v2/user/info").json()["user_id"] == two.get("/v2/user/info").json()["user_id"]


def test_group_mapping_makes_an_account_admin(identity: IdentityWorld) -> None:
    _, key = sso_session(identity, identity.a.email("ada"))
    with as_key(identity, key) as ada:
        config = ada.get("/atrium/sso/config")
        assert config.status_code == 200, config.text
        body = config.json()
        assert body["account_id"] == identity.a.account_id and body["client_secret_set"] is True
        assert "client_secret" not in body and identity.a.client_secret not in config.text
        # Scoped: the admin's team list holds nothing of account B.
        teams = ada.get("/team/list")
        assert teams.status_code == 200 and identity.b.account_id not in teams.text


def test_super_admin_email_signs_in_as_super_admin(identity: IdentityWorld) -> None:
    _, key = sso_session(identity, identity.a.email("boss"))
    with as_key(identity, key) as boss:
        listed = boss.get("/account/list")
        assert listed.status_code == 200, listed.text
        slugs = {a["slug"] for a in listed.json()["accounts"]}
        assert {identity.a.slug, identity.b.slug} <= slugs


def test_ui_admin_login_still_works(identity: IdentityWorld) -> None:
    login = httpx.post(
        f"{identity.base_url}/v2/login", json={"username": "admin", "password": identity.master_key}, timeout=30
    )
    assert login.status_code == 200, login.text
    key = jwt.decode(login.cookies["token"], identity.master_key, algorithms=["HS256"])["key"]
    with as_key(identity, key) as admin:
        assert admin.get("/account/list").status_code == 200


def test_two_accounts_two_idps_on_one_gateway(identity: IdentityWorld) -> None:
    _, alice_key = sso_session(identity, identity.a.email("alice"))
    _, bob_key = sso_session(identity, identity.b.email("bob"))
    with as_key(identity, alice_key) as alice, as_key(identity, bob_key) as bob:
        alice_id = alice.get("/v2/user/info").json()["user_id"]
        bob_id = bob.get("/v2/user/info").json()["user_id"]
        # Each sees only their own account's users.
        assert bob.get("/v2/user/info", params={"user_id": alice_id}).status_code in (401, 403, 404)
        assert alice.get("/v2/user/info", params={"user_id": bob_id}).status_code in (401, 403, 404)
        assert alice_id not in bob.get("/key/list").text and bob_id not in alice.get("/key/list").text


def test_idp_of_b_cannot_sign_in_a_user_of_a(identity: IdentityWorld) -> None:
    """IdP B vouches for alice@<A's domain>; B's login must not give her (or anyone) an A or B session."""
    with browserless_client() as client:
        callback = idp_login(
            client,
            f"{identity.base_url}/atrium/sso/start?account={identity.b.slug}",
            identity.a.email("alice"),
            PASSWORD,
        )
        response = client.get(callback)
    assert response.status_code == 401 and session_cookie(response) is None
    assert response.json()["error"]["code"] == "login_rejected"


def test_password_user_gets_a_session_scoped_to_the_account(identity: IdentityWorld) -> None:
    """LiteLLM's own invitation + /v2/login, unchanged: the session key lands in the user's account."""
    acc: SsoAccount = identity.pw
    email = acc.email("pat")
    admin_user = f"{acc.slug}-admin"
    with identity.root() as root:
        assert root.post("/account/admin/add", json={"account_id": acc.account_id, "user_id": admin_user}).is_success
    with identity.root(acc.account_id) as acting:
        admin_key = acting.post("/key/generate", json={"user_id": admin_user}).json()["key"]
    with as_key(identity, admin_key) as admin:
        key, _cookie = _ui_session(identity.base_url, admin, f"{acc.slug}-pat", email)
    with as_key(identity, key) as pat:
        me = pat.get("/v2/user/info")
        assert me.status_code == 200 and me.json()["user_email"] == email
        # A tenant principal: super-admin routes are closed to it, and it sees no other account.
        assert pat.get("/account/list").status_code == 403
        assert identity.a.account_id not in pat.get("/key/list").text
    with identity.root() as root:
        row = root.get("/key/info", params={"key": key})
        assert row.status_code == 200, row.text
