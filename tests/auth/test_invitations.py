"""Invitations: mail captured by a local SMTP server; the link works once, expires, and only
for the account that issued it."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import jwt
from identity_support import PASSWORD, IdentityWorld, SsoAccount, account_admin_key, as_key, sso_session

from extensions.testing.sso import browserless_client, idp_login, session_cookie

_LINK = re.compile(r"(http://\S+/atrium/invitation/accept\?\S+)")


def invite(world: IdentityWorld, account: SsoAccount, email: str, role: str = "member") -> str:
    with as_key(world, account_admin_key(world, account)) as admin:
        created = admin.post("/atrium/invitation/new", json={"email": email, "role": role})
    assert created.status_code == 200, created.text
    assert "token" not in created.json()
    message = world.mail.wait_for(email)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = _LINK.search(body.get_content())
    assert match, body.get_content()
    return match.group(1)


def accept(link: str, password: str = PASSWORD) -> httpx.Response:
    query = parse_qs(urlsplit(link).query)
    form = {"account": query["account"][0], "token": query["token"][0], "password": password}
    return httpx.post(link.split("?", 1)[0], data=form, timeout=30)


def _sql(dsn: str, query: str, *args: object) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(query, *args)
        finally:
            await conn.close()

    asyncio.run(run())


def test_invitation_link_works_once_and_lands_in_the_account(identity: IdentityWorld) -> None:
    acc = identity.pw
    email = acc.email("newbie")
    link = invite(identity, acc, email)
    page = httpx.get(link, timeout=30)
    assert page.status_code == 200 and email in page.text
    accepted = accept(link)
    assert accepted.status_code == 303, accepted.text
    cookie = session_cookie(accepted)
    assert cookie
    key = jwt.decode(cookie, identity.master_key, algorithms=["HS256"])["key"]
    with as_key(identity, key) as newbie:
        me = newbie.get("/v2/user/info")
        assert me.status_code == 200 and me.json()["user_email"] == email
        assert identity.a.account_id not in newbie.get("/key/list").text
    # Once only, whichever way it is replayed.
    again = httpx.get(link, timeout=30)
    assert again.status_code == 410 and "already used" in again.json()["error"]["message"]
    replay = accept(link)
    assert replay.status_code == 410 and session_cookie(replay) is None
    # The chosen password works with LiteLLM's own login.
    login = httpx.post(f"{identity.base_url}/v2/login", json={"username": email, "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text


def test_invitation_cannot_be_used_for_another_account(identity: IdentityWorld) -> None:
    link = invite(identity, identity.pw, identity.pw.email("wanderer"))
    foreign = link.replace(f"account={identity.pw.slug}", f"account={identity.b.slug}")
    refused = accept(foreign)
    assert refused.status_code == 410 and session_cookie(refused) is None
    assert "not for this account" in refused.json()["error"]["message"]
    assert httpx.get(foreign, timeout=30).status_code == 410
    assert accept(link).status_code == 303  # still valid for its own account


def test_expired_invitation_is_refused(identity: IdentityWorld, database_url: str) -> None:
    email = identity.pw.email("late")
    link = invite(identity, identity.pw, email)
    _sql(
        database_url,
        """UPDATE "Atrium_Invitation" SET expires_at = now() - interval '1 minute' WHERE email = $1""",
        email,
    )
    refused = accept(link)
    assert refused.status_code == 410 and session_cookie(refused) is None
    assert "expired" in refused.json()["error"]["message"]


def test_tokens_are_stored_hashed_and_never_listed(identity: IdentityWorld, database_url: str) -> None:
    email = identity.pw.email("hashed")
    link = invite(identity, identity.pw, email)
    token = parse_qs(urlsplit(link).query)["token"][0]

    async def row() -> dict[str, object]:
        conn = await asyncpg.connect(database_url)
        try:
            found = await conn.fetchrow('SELECT * FROM "Atrium_Invitation" WHERE email = $1', email)
            assert found is not None
            return dict(found)
        finally:
            await conn.close()

    stored = asyncio.run(row())
    assert token not in {str(v) for v in stored.values()}
    with as_key(identity, account_admin_key(identity, identity.pw)) as admin:
        listed = admin.get("/atrium/invitation/list")
    assert listed.status_code == 200 and token not in listed.text and email in listed.text


def test_members_cannot_invite(identity: IdentityWorld) -> None:
    _, alice_key = sso_session(identity, identity.a.email("alice"))
    with as_key(identity, alice_key) as alice:
        refused = alice.post("/atrium/invitation/new", json={"email": identity.a.email("friend")})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "account_admin_required"


def test_sso_account_invitation_continues_at_the_idp(identity: IdentityWorld) -> None:
    acc = identity.b
    link = invite(identity, acc, acc.email("bob"), role="admin")
    with browserless_client() as client:
        opened = client.get(link)
        assert opened.status_code == 303 and opened.headers["location"].startswith("/atrium/sso/start?")
        callback = idp_login(client, identity.base_url + opened.headers["location"], acc.email("bob"), PASSWORD)
        landed = client.get(callback)
    assert landed.status_code == 303 and session_cookie(landed)
    key = jwt.decode(session_cookie(landed) or "", identity.master_key, algorithms=["HS256"])["key"]
    with as_key(identity, key) as bob:
        # The invitation made bob an account admin of B.
        assert bob.get("/atrium/sso/config").json()["account_id"] == acc.account_id


def test_account_smtp_settings_override_the_env(identity: IdentityWorld) -> None:
    acc = identity.pw
    own = {"host": "127.0.0.1", "port": identity.mail.port, "from": f"invites@{acc.domain}", "starttls": False}
    with identity.root() as root:
        assert root.post("/account/update", json={"account_id": acc.account_id, "settings": {"smtp": own}}).is_success
    try:
        email = acc.email("via-own-smtp")
        invite(identity, acc, email)
        assert identity.mail.wait_for(email)["From"] == f"invites@{acc.domain}"
    finally:
        with identity.root() as root:
            root.post("/account/update", json={"account_id": acc.account_id, "settings": {}})


def test_unsendable_invitation_is_not_kept(identity: IdentityWorld) -> None:
    from extensions.testing.fake_upstream import free_port

    acc = identity.pw
    dead = {"host": "127.0.0.1", "port": free_port(), "starttls": False}
    with identity.root() as root:
        assert root.post("/account/update", json={"account_id": acc.account_id, "settings": {"smtp": dead}}).is_success
    email = acc.email("never-mailed")
    try:
        with as_key(identity, account_admin_key(identity, acc)) as admin:
            failed = admin.post("/atrium/invitation/new", json={"email": email})
            assert failed.status_code == 502 and failed.json()["error"]["code"] == "mail_failed"
            assert email not in admin.get("/atrium/invitation/list").text
    finally:
        with identity.root() as root:
            root.post("/account/update", json={"account_id": acc.account_id, "settings": {}})
