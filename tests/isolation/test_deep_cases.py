"""Deep isolation cases: id guessing, list filters, bulk endpoints, moving keys, spend, acting as."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import openai
import pytest
from rows import diff, snapshot

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld


def leaks(response: httpx.Response, other: AccountWorld) -> list[str]:
    """Other-account identifiers in the response that the caller did not send itself."""
    sent = str(response.request.url) + response.request.content.decode(errors="replace")
    return [c for c in other.canaries if c in response.text and c not in sent]


@pytest.fixture(params=["admin", "member-ui", "key"])
def principal(request: pytest.FixtureRequest, proxy: ProxyProcess, account_a: AccountWorld) -> httpx.Client:
    key = {"admin": account_a.admin_key, "member-ui": account_a.ui_session_key, "key": account_a.member_key}
    return account_a.client(proxy.base_url, key[request.param])


def test_key_list_shows_only_own_keys(proxy: ProxyProcess, account_a: AccountWorld, account_b: AccountWorld) -> None:
    admin = account_a.client(proxy.base_url, account_a.admin_key)
    response = admin.get("/key/list", params={"return_full_object": "true", "size": 100})
    assert response.status_code == 200, response.text
    tokens = {k["token"] for k in response.json()["keys"]}
    assert account_a.member_token in tokens
    assert not leaks(response, account_b)


def test_team_and_user_lists_are_scoped(proxy: ProxyProcess, account_a: AccountWorld, account_b: AccountWorld) -> None:
    admin = account_a.client(proxy.base_url, account_a.admin_key)
    for path in ("/team/list", "/v2/team/list", "/user/list"):
        response = admin.get(path)
        assert response.status_code == 200, f"{path}: {response.text}"
        assert account_a.team_id in response.text or path == "/user/list"
        assert not leaks(response, account_b), path


def test_guessing_other_accounts_ids_finds_nothing(principal: httpx.Client, account_b: AccountWorld) -> None:
    # Each probe names an object of B: the reference check answers 404 before LiteLLM, for any principal;
    # POST /key/info (unclassified) is closed: 403 before any lookup.
    not_found, closed = (404, "not_found"), (403, "route_not_allowed")
    probes = [
        (principal.get("/key/info", params={"key": account_b.member_key}), not_found),
        (principal.get("/key/info", params={"key": account_b.member_token}), not_found),
        (principal.get("/team/info", params={"team_id": account_b.team_id}), not_found),
        (principal.get("/user/info", params={"user_id": account_b.member_user}), not_found),
        (principal.post("/key/info", json={"keys": [account_b.member_token]}), closed),  # unclassified
    ]
    for response, (status, code) in probes:
        assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
        assert response.json()["error"]["code"] == code, response.text
        assert not leaks(response, account_b), response.request.url


def test_list_filters_naming_other_accounts_ids(principal: httpx.Client, account_b: AccountWorld) -> None:
    # Ids of B: refused by the reference check (404) before LiteLLM filters anything.
    for params in ({"team_id": account_b.team_id}, {"user_id": account_b.member_user}):
        response = principal.get("/key/list", params={**params, "return_full_object": "true"})
        assert response.status_code == 404, f"{params}: {response.status_code} {response.text}"
        assert not leaks(response, account_b), params
    # An alias is not an id: the filter runs over the caller's own keys and finds none of B's.
    response = principal.get("/key/list", params={"key_alias": "bravo-member-key", "return_full_object": "true"})
    assert response.status_code == 200, response.text
    assert response.json()["keys"] == [], response.text


def test_cannot_change_or_delete_other_accounts_objects(
    proxy: ProxyProcess, account_a: AccountWorld, account_b: AccountWorld, master_key: str, database_url: str
) -> None:
    admin = account_a.client(proxy.base_url, account_a.admin_key)
    before = asyncio.run(snapshot(database_url, account_b.account_id))
    attempts = [
        admin.post("/key/update", json={"key": account_b.member_token, "key_alias": "hijacked"}),
        admin.post("/key/delete", json={"keys": [account_b.member_token]}),
        admin.post("/key/block", json={"key": account_b.member_token}),
        admin.post("/team/update", json={"team_id": account_b.team_id, "team_alias": "hijacked"}),
        admin.post("/team/delete", json={"team_ids": [account_b.team_id]}),
        admin.post("/user/update", json={"user_id": account_b.member_user, "user_role": "proxy_admin"}),
        admin.post("/user/delete", json={"user_ids": [account_b.member_user]}),
        admin.post(
            "/team/member_add",
            json={"team_id": account_b.team_id, "member": {"role": "user", "user_id": account_a.member_user}},
        ),
    ]
    for response in attempts:
        # Each names an object of B: the reference check answers 404 and nothing of B comes back.
        assert response.status_code == 404, f"{response.request.url}: {response.status_code} {response.text}"
        assert not leaks(response, account_b), response.request.url
    after = asyncio.run(snapshot(database_url, account_b.account_id))
    assert not diff(before, after), diff(before, after)
    # B's objects are untouched and still work.
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    key_info = root.get("/key/info", params={"key": account_b.member_token}).json()["info"]
    assert key_info.get("key_alias") == "bravo-member-key" and not key_info.get("blocked")
    team_info = root.get("/team/info", params={"team_id": account_b.team_id}).json()["team_info"]
    assert team_info["team_alias"] == "bravo-team"
    user_info = root.get("/user/info", params={"user_id": account_b.member_user}).json()["user_info"]
    assert user_info["user_role"] == "internal_user"
    b_client = openai.OpenAI(api_key=account_b.member_key, base_url=f"{proxy.base_url}/v1")
    b_client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "still works"}])


def test_key_cannot_move_into_other_accounts_team(
    proxy: ProxyProcess, account_a: AccountWorld, account_b: AccountWorld, database_url: str
) -> None:
    admin = account_a.client(proxy.base_url, account_a.admin_key)
    moved = admin.post("/key/update", json={"key": account_a.member_token, "team_id": account_b.team_id})
    assert moved.status_code == 404, moved.text
    created = admin.post("/key/generate", json={"team_id": account_b.team_id})
    assert created.status_code == 404, created.text

    async def rows() -> tuple[str | None, int]:
        conn = await asyncpg.connect(database_url)
        try:
            team = await conn.fetchval(
                'SELECT team_id FROM "LiteLLM_VerificationToken" WHERE token = $1', account_a.member_token
            )
            in_b_team = await conn.fetchval(
                'SELECT count(*) FROM "LiteLLM_VerificationToken" '
                "WHERE team_id = $1 AND account_id IS DISTINCT FROM $2",
                account_b.team_id,
                account_b.account_id,
            )
            return team, in_b_team
        finally:
            await conn.close()

    # In the database: A's key is still in A's team, and no key outside B sits in B's team.
    assert asyncio.run(rows()) == (account_a.team_id, 0)


def test_rows_carry_the_right_account(database_url: str, account_a: AccountWorld, account_b: AccountWorld) -> None:
    async def check() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for world in (account_a, account_b):
                for table, column, value in [
                    ("LiteLLM_VerificationToken", "token", world.member_token),
                    ("LiteLLM_VerificationToken", "token", world.admin_token),
                    ("LiteLLM_TeamTable", "team_id", world.team_id),
                    ("LiteLLM_UserTable", "user_id", world.member_user),
                ]:
                    got = await conn.fetchval(f'SELECT account_id FROM "{table}" WHERE {column} = $1', value)
                    assert got == world.account_id, (table, value, got)
        finally:
            await conn.close()

    asyncio.run(check())


def test_super_admin_sees_both_and_acting_as_is_scoped(
    proxy: ProxyProcess, master_key: str, account_a: AccountWorld, account_b: AccountWorld
) -> None:
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    teams = root.get("/team/list").text
    assert account_a.team_id in teams and account_b.team_id in teams
    acting = httpx.Client(
        base_url=proxy.base_url,
        headers={"Authorization": f"Bearer {master_key}", "X-Atrium-Account": account_a.slug},
        timeout=30,
    )
    scoped = acting.get("/team/list")
    assert account_a.team_id in scoped.text and not leaks(scoped, account_b)
    assert acting.get("/config/list").status_code == 403  # acting as A is exactly A's admin


def test_global_routes_are_super_admin_only(proxy: ProxyProcess, account_a: AccountWorld) -> None:
    admin = account_a.client(proxy.base_url, account_a.admin_key)
    for method, path in [
        ("GET", "/global/spend/logs"),
        ("POST", "/config/update"),
        ("GET", "/get/config/callbacks"),
        ("GET", "/cache/ping"),
        ("GET", "/organization/list"),
    ]:
        response = admin.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 403, f"{path}: {response.status_code}"
        assert response.json()["error"]["code"] == "route_not_allowed"


def test_a_path_no_route_serves_is_litellms_404(proxy: ProxyProcess, account_a: AccountWorld) -> None:
    """Nothing to classify: LiteLLM's own 404 (the admin UI probes `/ui.txt`), not a policy refusal.
    A route that exists unclassified stays closed (tests/tenancy/test_decision.py)."""
    admin = account_a.client(proxy.base_url, account_a.admin_key)
    for path in ("/definitely/not/a/route", "/ui.txt"):
        response = admin.get(path)
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"}), path


def test_existing_openai_clients_work_unchanged(proxy: ProxyProcess, account_a: AccountWorld) -> None:
    client = openai.OpenAI(api_key=account_a.member_key, base_url=f"{proxy.base_url}/v1")
    reply = client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content == "[primary] hello"
    chunks = client.chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": "a b"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "[primary] a b"


def test_ui_session_of_a_tenant_user_is_scoped(
    proxy: ProxyProcess, account_a: AccountWorld, account_b: AccountWorld
) -> None:
    admin = account_a.client(proxy.base_url, account_a.admin_key)
    created = admin.post(
        "/user/new",
        json={"user_id": "alpha-ui2", "user_email": "ui2@alpha.example", "user_role": "internal_user"},
    )
    assert created.status_code == 200, created.text
    # LiteLLM's own onboarding: invitation -> onboarding session -> the user sets a password.
    invitation = admin.post("/invitation/new", json={"user_id": "alpha-ui2"})
    assert invitation.status_code == 200, invitation.text
    link = invitation.json()["id"]
    onboarding = httpx.get(f"{proxy.base_url}/onboarding/get_token", params={"invite_link": link}, timeout=30)
    assert onboarding.status_code == 200, onboarding.text
    import jwt

    onboarding_jwt = jwt.decode(onboarding.json()["token"], options={"verify_signature": False})["key"]
    claimed = httpx.post(
        f"{proxy.base_url}/onboarding/claim_token",
        timeout=30,
        headers={"Authorization": f"Bearer {onboarding_jwt}"},
        json={"invitation_link": link, "user_id": "alpha-ui2", "password": "Correct-Horse-42!"},
    )
    assert claimed.status_code == 200, claimed.text
    login = httpx.post(
        f"{proxy.base_url}/v2/login",
        json={"username": "ui2@alpha.example", "password": "Correct-Horse-42!"},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    cookie = login.cookies.get("token")
    assert cookie, f"no session cookie: {login.headers}"
    # The UI sends the session as the cookie; Atrium resolves it to the user's account.
    session = httpx.Client(base_url=proxy.base_url, cookies={"token": cookie}, timeout=30)
    me = session.get("/key/list")
    # The cookie alone is a UI session: LiteLLM reads the key from the bearer header, not the cookie.
    assert me.status_code == 401, me.text
    assert not leaks(me, account_b)

    claims = jwt.decode(cookie, options={"verify_signature": False})
    bearer = account_a.client(proxy.base_url, claims["key"])
    listed = bearer.get("/key/list", params={"return_full_object": "true"})
    assert listed.status_code == 200, listed.text
    assert not leaks(listed, account_b)
    assert bearer.get("/config/list").status_code == 403


def test_embeddings_with_an_account_key(proxy: ProxyProcess, account_a: AccountWorld) -> None:
    client = openai.OpenAI(api_key=account_a.member_key, base_url=f"{proxy.base_url}/v1")
    response = client.embeddings.create(model="embed-fake", input="hello")
    assert len(response.data) == 1 and response.data[0].embedding


def test_spend_rows_carry_the_accounts_id(database_url: str, account_a: AccountWorld) -> None:
    async def rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return list(
                await conn.fetch(
                    'SELECT account_id FROM "LiteLLM_SpendLogs" WHERE api_key = $1 UNION ALL '
                    'SELECT account_id FROM "LiteLLM_DailyUserSpend" WHERE api_key = $1',
                    account_a.member_token,
                )
            )
        finally:
            await conn.close()

    import time

    deadline = time.monotonic() + 30
    found = asyncio.run(rows())
    while len({r["account_id"] for r in found}) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        found = asyncio.run(rows())
    assert found and {r["account_id"] for r in found} == {account_a.account_id}


def test_spend_logs_ui_shows_only_the_accounts_rows(
    proxy: ProxyProcess, account_a: AccountWorld, account_b: AccountWorld, database_url: str
) -> None:
    import time

    admin = account_a.client(proxy.base_url, account_a.admin_key)
    deadline = time.monotonic() + 30
    first = admin.get("/spend/logs/ui", params={"page_size": 100})
    assert first.status_code == 200, f"{first.status_code} {first.text[:500]}"
    page = first.json()
    while not page.get("data") and time.monotonic() < deadline:
        time.sleep(0.5)
        page = admin.get("/spend/logs/ui", params={"page_size": 100}).json()
    assert page["total"] >= 1 and {row["account_id"] for row in page["data"]} == {account_a.account_id}
    assert not [c for c in account_b.canaries if c in str(page)]
    mine = page["data"][0]["request_id"]
    assert admin.get(f"/spend/logs/ui/{mine}").status_code == 200

    # Another account's request id is not found, and filters naming B's key find nothing.
    async def one_of_theirs() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            request_id: str = await conn.fetchval(
                'SELECT request_id FROM "LiteLLM_SpendLogs" WHERE account_id = $1 LIMIT 1', account_b.account_id
            )
            return request_id
        finally:
            await conn.close()

    theirs = asyncio.run(one_of_theirs())
    while not theirs and time.monotonic() < deadline + 30:  # B's spend is written asynchronously
        time.sleep(0.5)
        theirs = asyncio.run(one_of_theirs())
    assert theirs
    assert admin.get(f"/spend/logs/ui/{theirs}").status_code == 404
    # A filter naming B's key is refused before the handler (extensions/tenancy/policy/references.py).
    assert admin.get("/spend/logs/ui", params={"api_key": account_b.member_token}).status_code == 404
    bad = admin.get("/spend/logs/ui", params={"sort_by": "nonsense"})
    assert bad.status_code == 400 and "sort_by" in bad.json()["error"]["message"]
    # Date filters (the Logs page sends them) are parsed, not passed to the database as text (was a 500).
    dated = admin.get("/spend/logs/ui", params={"start_date": "2020-01-01 00:00:00", "end_date": "2100-01-01"})
    assert dated.status_code == 200, dated.text
    assert mine in {row["request_id"] for row in dated.json()["data"]}
    future = admin.get("/spend/logs/ui", params={"start_date": "2100-01-01"})
    assert future.status_code == 200 and future.json()["data"] == [], future.text
    bad_date = admin.get("/spend/logs/ui", params={"start_date": "yesterday"})
    assert bad_date.status_code == 400 and "start_date" in bad_date.json()["error"]["message"]
