"""Namespaces LiteLLM keeps global: end users, client-chosen ids, emails.

Cases are generated: the end-user locations from LiteLLM's own extractor and header list, the
create routes and their unique columns from the served OpenAPI document, the route policy and
``schema.prisma``, the values to collide with from the other account's database rows.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from extensions import litellm
from extensions.tenancy.policy.conflicts import CLAIMS, Mode
from extensions.tenancy.policy.route_policy import load_policy
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld

SCHEMA = Path(__file__).resolve().parents[2] / "schema.prisma"
OPEN_CLASSES = ("tenant", "llm")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def _without_request_id(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"].pop("request_id", None)
    return response.status_code, body


def _fresh(tag: str) -> str:
    return f"ns-{tag}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def admin_a(proxy: ProxyProcess, account_a: AccountWorld) -> Iterator[httpx.Client]:
    with account_a.client(proxy.base_url, account_a.admin_key) as client:
        yield client


@pytest.fixture(scope="module")
def admin_b(proxy: ProxyProcess, account_b: AccountWorld) -> Iterator[httpx.Client]:
    with account_b.client(proxy.base_url, account_b.admin_key) as client:
        yield client


# -- End users ---------------------------------------------------------------------------------


def test_same_customer_id_in_two_accounts_is_two_customers(
    database_url: str, admin_a: httpx.Client, admin_b: httpx.Client, account_a: AccountWorld, account_b: AccountWorld
) -> None:
    customer = _fresh("shared")
    for client, budget in ((admin_a, 11.0), (admin_b, 22.0)):
        created = client.post("/customer/new", json={"user_id": customer, "max_budget": budget})
        assert created.status_code == 200, created.text
        assert created.json()["user_id"] == customer  # the public id, not the internal one
    rows = _run(
        _fetch(
            database_url, 'SELECT user_id, account_id FROM "LiteLLM_EndUserTable" WHERE user_id LIKE $1', f"%{customer}"
        )
    )
    assert sorted((r["account_id"], r["user_id"]) for r in rows) == sorted(
        (w.account_id, f"{w.account_id}/{customer}") for w in (account_a, account_b)
    )
    for client, budget, other in ((admin_a, 11.0, account_b), (admin_b, 22.0, account_a)):
        info = client.get("/customer/info", params={"end_user_id": customer})
        assert info.status_code == 200, info.text
        assert info.json()["user_id"] == customer
        assert info.json()["litellm_budget_table"]["max_budget"] == budget
        listed = client.get("/customer/list")
        assert customer in [c["user_id"] for c in listed.json()]
        assert other.account_id not in info.text + listed.text


def _llm_locations() -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """Every place LiteLLM reads an end-user id from, checked against LiteLLM's own extractor."""
    cases: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    for header in sorted(litellm.end_user_header_names()):
        cases.append((f"header:{header}", {header: "{id}"}, {}))
    for name, body in (
        ("user", {"user": "{id}"}),
        ("litellm_metadata.user", {"litellm_metadata": {"user": "{id}"}}),
        ("metadata.user_id", {"metadata": {"user_id": "{id}"}}),
        ("metadata.user_id(json-string)", {"metadata": '{"user_id": "{id}"}'}),
        ("safety_identifier", {"safety_identifier": "{id}"}),
    ):
        cases.append((name, {}, body))
    return cases


LLM_LOCATIONS = _llm_locations()


def _fill(value: Any, customer: str) -> Any:
    if isinstance(value, str):
        return value.replace("{id}", customer)
    if isinstance(value, dict):
        return {k: _fill(v, customer) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("where", "headers", "body"), LLM_LOCATIONS, ids=[c[0] for c in LLM_LOCATIONS])
def test_location_is_one_litellm_reads(where: str, headers: dict[str, str], body: dict[str, Any]) -> None:
    """The generated locations are real: LiteLLM's extractor finds the id in each."""
    filled_headers, filled_body = _fill(headers, "probe"), _fill(body, "probe")
    assert litellm.end_user_id_of(filled_body, filled_headers) == "probe", where


# The account's row for a public customer id, whatever id LiteLLM stored it under.
SPEND_SQL = (
    'SELECT user_id, spend, account_id FROM "LiteLLM_EndUserTable" '
    "WHERE user_id = $1 OR (user_id = split_part($1, '/', 2) AND account_id = split_part($1, '/', 1))"
)


def _chat(client: httpx.Client, where: str, **extra: Any) -> httpx.Response:
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": f"ns {where}"}]}
    headers = extra.pop("headers", {})
    return client.post("/v1/chat/completions", json={**body, **extra}, headers=headers)


def _settled_spend(dsn: str, user_id: str) -> float:
    """The row's spend once the spend writer has flushed it and it stopped moving."""
    deadline, previous = time.monotonic() + 90, None
    while time.monotonic() < deadline:
        rows = _run(_fetch(dsn, SPEND_SQL, user_id))
        spend = rows[0]["spend"] if rows else None
        if spend and spend == previous:
            return float(spend)
        previous = spend
        time.sleep(2)
    raise AssertionError(f"spend of {user_id} never settled (last {previous})")


@pytest.fixture(scope="module")
def over_budget_b_customer(
    proxy: ProxyProcess, database_url: str, admin_b: httpx.Client, account_b: AccountWorld
) -> str:
    """A customer of B over its budget: a request checked against it is refused with its numbers."""
    customer = _fresh("victim")
    assert admin_b.post("/customer/new", json={"user_id": customer, "max_budget": 1e-9}).status_code == 200
    with account_b.client(proxy.base_url, account_b.member_key) as member:
        deadline = time.monotonic() + 90
        while _chat(member, "b spends", user=customer).status_code == 200:
            assert time.monotonic() < deadline, "B's customer never went over budget"
            time.sleep(1)
    _settled_spend(database_url, f"{account_b.account_id}/{customer}")
    return customer


@pytest.mark.parametrize(("where", "headers", "body"), LLM_LOCATIONS, ids=[c[0] for c in LLM_LOCATIONS])
def test_llm_request_naming_other_accounts_customer_stays_in_own_account(
    where: str,
    headers: dict[str, str],
    body: dict[str, Any],
    proxy: ProxyProcess,
    database_url: str,
    account_a: AccountWorld,
    account_b: AccountWorld,
    over_budget_b_customer: str,
) -> None:
    theirs = f"{account_b.account_id}/{over_budget_b_customer}"
    before = _run(_fetch(database_url, SPEND_SQL, theirs))
    with account_a.client(proxy.base_url, account_a.member_key) as member:
        response = _chat(
            member, where, headers=_fill(headers, over_budget_b_customer), **_fill(body, over_budget_b_customer)
        )
    # B's customer is over budget: reaching it would refuse the request with B's numbers.
    assert response.status_code == 200, f"{where}: {response.status_code} {response.text}"
    assert account_b.account_id not in response.text and "bravo" not in response.text
    mine = f"{account_a.account_id}/{over_budget_b_customer}"
    _settled_spend(database_url, mine)
    rows = _run(_fetch(database_url, SPEND_SQL, mine))
    assert rows[0]["account_id"] == account_a.account_id, rows
    assert _run(_fetch(database_url, SPEND_SQL, theirs)) == before  # B's customer: not a cent of A's


def test_customer_budget_is_enforced_within_its_account(
    proxy: ProxyProcess, account_b: AccountWorld, over_budget_b_customer: str
) -> None:
    """The mapping is not a bypass: B's own request for its over-budget customer is refused, and
    the error names the customer by its public id."""
    with account_b.client(proxy.base_url, account_b.member_key) as member:
        response = _chat(member, "b again", user=over_budget_b_customer)
    assert response.status_code in (400, 422, 429), response.text
    assert over_budget_b_customer in response.text and account_b.account_id not in response.text


def test_spend_logs_show_the_public_end_user(
    proxy: ProxyProcess, admin_a: httpx.Client, account_a: AccountWorld, over_budget_b_customer: str
) -> None:
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not rows and time.monotonic() < deadline:
        page = admin_a.get("/spend/logs/ui", params={"end_user": over_budget_b_customer, "page_size": 100})
        assert page.status_code == 200, page.text
        rows = page.json()["data"]
        time.sleep(1)
    assert rows and {r["end_user"] for r in rows} == {over_budget_b_customer}, rows
    assert account_a.account_id not in str([r["end_user"] for r in rows])


def test_global_key_cannot_name_an_accounts_internal_end_user(
    proxy: ProxyProcess, master_key: str, account_b: AccountWorld, over_budget_b_customer: str
) -> None:
    with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30) as root:
        global_key = root.post("/key/generate", json={"models": ["gpt-fake"]}).json()["key"]
    internal = f"{account_b.account_id}/{over_budget_b_customer}"
    with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {global_key}"}, timeout=30) as key:
        chat = key.post(
            "/v1/chat/completions",
            json={"model": "gpt-fake", "messages": [{"role": "user", "content": "x"}], "user": internal},
        )
        info = key.get("/customer/info", params={"end_user_id": internal})
    assert chat.status_code == 400 and chat.json()["error"]["code"] == "end_user_field_not_accepted", chat.text
    assert info.status_code in (400, 401, 403, 404) and "max_budget" not in info.text, info.text


def test_end_user_in_a_form_body_is_refused(proxy: ProxyProcess, account_a: AccountWorld) -> None:
    with account_a.client(proxy.base_url, account_a.member_key) as member:
        response = member.post(
            "/v1/audio/transcriptions",
            data={"model": "gpt-fake", "user": "someone"},
            files={"file": ("a.wav", b"RIFF0000WAVE", "audio/wav")},
        )
    assert response.status_code == 400 and response.json()["error"]["code"] == "end_user_field_not_accepted"


# -- Client-chosen ids -------------------------------------------------------------------------


def _unique_columns() -> dict[str, list[tuple[str, str]]]:
    """column name -> [(table, column)] for every string @id / @unique column of the schema."""
    found: dict[str, list[tuple[str, str]]] = {}
    table = None
    for line in SCHEMA.read_text().splitlines():
        model = re.match(r"model (\w+)", line)
        if model:
            table = model.group(1)
            continue
        column = re.match(r"\s+(\w+)\s+String\??\s.*@(id|unique)\b", line)
        if column and table:
            found.setdefault(column.group(1), []).append((table, column.group(1)))
    return found


def _create_candidates(spec: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, field path) of tenant-open create routes whose body names a unique column."""
    columns = _unique_columns() | {"key": [("LiteLLM_VerificationToken", "token")]}
    schemas = spec["components"]["schemas"]
    policy = load_policy()

    def props(schema: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        for option in schema.get("anyOf", []):
            if "$ref" in option or option.get("type") == "array":
                return props(option)
        if schema.get("type") == "array":
            return props(schema.get("items", {}))
        return dict(schema.get("properties", {}))

    found = []
    for path, operations in spec["paths"].items():
        if not re.search(r"/(new|generate|bulk|member_add|bulk_member_add)$|^/v1/memory$", path):
            continue
        for method, operation in operations.items():
            classified = policy.classify(method.upper(), path)
            if classified is None or str(classified.route_class) not in OPEN_CLASSES:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            for field, schema in props(body["schema"]).items():
                if field in columns:
                    found.append((method.upper(), path, (field,)))
                for inner in props(schema) if isinstance(schema, dict) else {}:
                    if inner in columns:
                        found.append((method.upper(), path, (field, inner)))
    return found


@pytest.fixture(scope="module")
def create_candidates(proxy: ProxyProcess) -> list[tuple[str, str, tuple[str, ...]]]:
    spec = httpx.get(f"{proxy.base_url}/openapi.json", timeout=60).json()
    candidates = _create_candidates(spec)
    assert len(candidates) >= 8, candidates
    return candidates


def _nest(path: tuple[str, ...], value: Any, as_list: bool) -> dict[str, Any]:
    if len(path) == 1:
        return {path[0]: value}
    inner = _nest(path[1:], value, False) | {"role": "user"}
    return {path[0]: [inner] if as_list else inner}


def _body(route: str, path: tuple[str, ...], value: str, world: AccountWorld) -> dict[str, Any]:
    body = _nest(path, value, as_list=path[0] in ("users", "members"))
    if "member" in route or "member" in path[0]:
        body["team_id"] = world.team_id
    if route.startswith("POST /v1/memory"):
        body.setdefault("value", "x")
    return body


def _holder(dsn: str, columns: list[tuple[str, str]], value: str) -> list[tuple[str, str, str | None]]:
    hits = []
    for table, column in columns:
        for candidate in (value, litellm.hash_token(value)):
            rows = _run(_fetch(dsn, f'SELECT account_id FROM "{table}" WHERE "{column}" = $1', candidate))
            rows += _run(_fetch(dsn, f'SELECT account_id FROM "{table}" WHERE "{column}" LIKE $1', f"%/{candidate}"))
            hits += [(table, column, r["account_id"]) for r in rows]
    return hits


def test_every_client_chosen_unique_id_answers_one_generic_409(
    database_url: str,
    admin_a: httpx.Client,
    admin_b: httpx.Client,
    account_a: AccountWorld,
    account_b: AccountWorld,
    create_candidates: list[tuple[str, str, tuple[str, ...]]],
) -> None:
    columns = _unique_columns() | {"key": [("LiteLLM_VerificationToken", "token")]}
    checked: list[str] = []
    references: list[str] = []
    bodies: set[str] = set()
    for method, url, path in create_candidates:
        route = f"{method} {url}"
        fresh = f"sk-{_fresh('id')}" if path[-1] == "key" else _fresh("id")
        created = admin_a.request(method, url, json=_body(route, path, fresh, account_a))
        holders = _holder(database_url, columns[path[-1]], fresh) if created.status_code == 200 else []
        if not holders:
            # Refused or created nothing keyed by it: the field references an object, and
            # reference ownership (including 5xx on unknown references) is tested elsewhere.
            references.append(f"{route} {'.'.join(path)} -> {created.status_code}")
            continue
        table, column, owner = holders[0]
        assert owner == account_a.account_id, (route, holders)
        # A created a row keyed by its value: B's value in that column must be refused alike.
        b_rows = _run(
            _fetch(
                database_url,
                f'SELECT "{column}" AS v FROM "{table}" WHERE account_id = $1 AND "{column}" IS NOT NULL LIMIT 1',
                account_b.account_id,
            )
        )
        claims = [c for c in CLAIMS.get(route, ()) if c.path == path]
        assert claims, f"{route} creates {table}.{column} from {path} but claims nothing"
        responses = {}
        if table == "LiteLLM_EndUserTable":
            # End users are per account: B's id is free in A's namespace and becomes A's own row.
            theirs = _fresh("b-customer")
            assert admin_b.post("/customer/new", json={"user_id": theirs}).status_code == 200
            separate = admin_a.request(method, url, json=_body(route, path, theirs, account_a))
            assert separate.status_code == 200, separate.text
            assert {h[2] for h in _holder(database_url, columns[path[-1]], theirs)} == {
                account_a.account_id,
                account_b.account_id,
            }
        elif b_rows and column != "token":  # tokens are stored hashed: B's key value is unknowable
            theirs = str(b_rows[0]["v"])
            responses["theirs"] = admin_a.request(method, url, json=_body(route, path, theirs, account_a))
        if claims[0].mode is Mode.FRESH:
            responses["mine"] = admin_a.request(method, url, json=_body(route, path, fresh, account_a))
        for who, response in responses.items():
            assert response.status_code == 409, f"{route} {path} {who}: {response.status_code} {response.text}"
            assert account_b.account_id not in response.text and "bravo" not in response.text
            bodies.add(repr(_without_request_id(response)))
        checked.append(f"{route} {'.'.join(path)}")
    expected = {"POST /team/new team_id", "POST /user/new user_id", "POST /budget/new budget_id"}
    assert expected <= set(checked), (checked, references)
    assert len(bodies) == 1, bodies  # one body: it never says whose the value is


# -- Emails ------------------------------------------------------------------------------------

B_PASSWORD = "Bravo-Admin-Pass-42!"


@pytest.fixture(scope="module")
def b_admin_email(proxy: ProxyProcess, master_key: str, account_b: AccountWorld) -> str:
    """B's admin gets an address and a password, as a person signing in to the UI has."""
    email = f"boss-{uuid.uuid4().hex[:6]}@{account_b.slug}.example"
    with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30) as root:
        updated = root.post(
            "/user/update", json={"user_id": account_b.admin_user, "user_email": email, "password": B_PASSWORD}
        )
    assert updated.status_code == 200, updated.text
    return email


def _email_attempts(account_a: AccountWorld, email: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every tenant route that claims an email (from CLAIMS), with the address in its place."""
    attempts = []
    for route, claims in CLAIMS.items():
        for claim in claims:
            if not claim.email:
                continue
            method, url = route.split(" ", 1)
            body = _body(route, claim.path, email, account_a)
            if route == "POST /user/update" or route == "POST /user/bulk_update":
                target = {"user_id": account_a.member_user, "user_email": email}
                body = target if route == "POST /user/update" else {"users": [target]}
            attempts.append((method, url, body))
    return attempts


def test_another_accounts_email_cannot_be_claimed(
    database_url: str, admin_a: httpx.Client, account_a: AccountWorld, account_b: AccountWorld, b_admin_email: str
) -> None:
    # An address of B's domain, not yet anyone's: B's people are B's to add.
    for email in (b_admin_email, b_admin_email.upper(), f"future-{uuid.uuid4().hex[:6]}@bravo.example"):
        attempts = _email_attempts(account_a, email)
        assert len(attempts) >= 5, attempts
        for method, url, body in attempts:
            response = admin_a.request(method, url, json=body)
            assert response.status_code == 409, f"{url} {email}: {response.status_code} {response.text}"
            assert account_b.account_id not in response.text and email.lower() not in response.text.lower()
    sql = 'SELECT account_id FROM "LiteLLM_UserTable" WHERE lower(user_email) = lower($1)'
    assert [r["account_id"] for r in _run(_fetch(database_url, sql, b_admin_email))] == [account_b.account_id]


def test_other_accounts_email_sign_in_lands_in_its_account(
    proxy: ProxyProcess, admin_a: httpx.Client, account_b: AccountWorld, b_admin_email: str
) -> None:
    admin_a.post("/user/new", json={"user_id": _fresh("squat"), "user_email": b_admin_email, "password": "x-Pass-1234"})
    for path in ("/login", "/v2/login"):
        form = {"username": b_admin_email, "password": B_PASSWORD}
        login = (
            httpx.post(f"{proxy.base_url}{path}", data=form, timeout=30, follow_redirects=False)
            if path == "/login"
            else httpx.post(f"{proxy.base_url}{path}", json=form, timeout=30)
        )
        assert login.status_code in (200, 303), f"{path}: {login.status_code} {login.text}"
        cookie = login.cookies.get("token")
        assert cookie, login.headers
        claims = jwt.decode(cookie, options={"verify_signature": False})
        assert claims["user_id"] == account_b.admin_user, claims
    resolved = httpx.post(f"{proxy.base_url}/v2/login/resolve", json={"email": b_admin_email}, timeout=30)
    unknown = httpx.post(f"{proxy.base_url}/v2/login/resolve", json={"email": "x@nowhere.example"}, timeout=30)
    assert resolved.status_code == 200 and resolved.json() == unknown.json()  # B has no SSO: password, same as anyone


# -- the operator's own user ------------------------------------------------------------------------


def test_the_operators_user_belongs_to_no_account(
    proxy: ProxyProcess, master_key: str, database_url: str, account_a: AccountWorld, account_b: AccountWorld
) -> None:
    """LiteLLM adds the master key's user to every team it creates. Acting in A, then in B, both
    teams get it (as LiteLLM answers) and its row stays in no account: stamped with A, it made B's
    team 404 and attributed the operator's own later requests to A."""
    operator = litellm.PROXY_ADMIN_USER_ID
    root = {"Authorization": f"Bearer {master_key}"}
    for world in (account_a, account_b):
        headers = {**root, "X-Atrium-Account": world.account_id}
        team = httpx.post(
            f"{proxy.base_url}/team/new", headers=headers, json={"team_alias": _fresh("operator")}, timeout=60
        )
        assert team.status_code == 200, team.text
        assert {"user_id": operator, "user_email": None, "role": "admin"} in team.json()["members_with_roles"]
        users = httpx.get(f"{proxy.base_url}/user/list", headers=headers, timeout=60)
        assert users.status_code == 200, users.text
        assert operator not in users.text
    sql = 'SELECT account_id FROM "LiteLLM_UserTable" WHERE user_id = $1'
    assert [r["account_id"] for r in _run(_fetch(database_url, sql, operator))] == [None]
