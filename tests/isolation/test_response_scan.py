"""Class 5 of the isolation review: what a tenant receives is projected to its account.

Filtering lists is not enough: one field of a shared object (a global model's
``access_via_team_ids``) can carry every account's ids. So every response that any
principal of account E (admin key, member key, team key, UI session) receives on every
route open to it, called with E's own values and with F's values, is searched for every
identifier of account F; the identifiers are read from F's rows in the database
(``identifiers.py``), not listed by hand. Headers are searched too. Routes and principals
come from the route table; a new route or a new kind of row is scanned automatically.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from identifiers import account_identifiers, found_in

from extensions.app import served_routes
from extensions.routes.replacements import HANDLERS
from extensions.tenancy.policy.route_policy import load_policy
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

POLICY = load_policy()
# Calls that end the caller's own session or rotate its own key would blind the rest of the scan.
SELF_AFFECTING = re.compile(r"^/(session/logout|key/regenerate|key/\{[^}]+\}/regenerate|logout)")


def _open_routes() -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in served_routes(include_lazy=True):
        if route.kind != "http" or SELF_AFFECTING.match(route.path):
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            entry = POLICY.entry_for(method, route.path)
            if entry is None:
                continue
            route_class = str(entry.route_class)
            if route_class in ("llm", "tenant") or (route_class == "replaced" and entry.handler in HANDLERS):
                found.add((method, route.path))
    return sorted(found)


OPEN = _open_routes()


def _values(world: AccountWorld) -> dict[str, str]:
    return {
        "key": world.member_token,
        "token": world.member_token,
        "user": world.member_user,
        "team": world.team_id,
        "model_id": str(world.extras["model_id"]),
        "credential": str(world.extras["credential_name"]),
        "model": str(world.extras["model_name"]),
        "customer": str(world.extras["customer_id"]),
        "end_user": str(world.extras["customer_id"]),
        "budget": str(world.extras["budget_id"]),
    }


def _param_value(param: str, world: AccountWorld) -> str:
    name = param.lower()
    values = _values(world)
    for marker in ("model_id", "credential", "customer", "end_user", "budget", "key", "token", "user", "model"):
        if marker in name:
            return values[marker]
    return world.team_id


def _path(template: str, world: AccountWorld) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]+)?\}", lambda m: _param_value(m.group(1), world), template)


def _query(world: AccountWorld) -> dict[str, str]:
    return {
        "team_id": world.team_id,
        "user_id": world.member_user,
        "key_hash": world.member_token,
        "end_user_id": str(world.extras["customer_id"]),
        "model": str(world.extras["model_name"]),
        "model_id": str(world.extras["model_id"]),
        "budget_id": str(world.extras["budget_id"]),
    }


def _body(world: AccountWorld) -> dict[str, Any]:
    return {
        "keys": [world.member_token],
        "team_id": world.team_id,
        "user_id": world.member_user,
        "user": str(world.extras["customer_id"]),
        "id": str(world.extras["model_id"]),
        "model_id": str(world.extras["model_id"]),
        "budget_id": str(world.extras["budget_id"]),
        "credential_name": str(world.extras["credential_name"]),
        "model": str(world.extras["model_name"]),
        "input": "scan",
        "messages": [{"role": "user", "content": "scan"}],
    }


# Own-valued writes send no ids: they must not delete or rewrite the scanning account's principals.
_OWN_WRITE_BODY = {"input": "scan", "prompt": "scan", "messages": [{"role": "user", "content": "scan"}]}


def _extend(proxy: ProxyProcess, world: AccountWorld) -> AccountWorld:
    """The objects a tenant makes beyond build_account's: a customer, a budget, a team key."""
    admin = world.client(proxy.base_url, world.admin_key)
    customer = f"{world.slug}-customer-7f3a"
    budget = f"{world.slug}-budget-7f3a"
    for path, body in (
        ("/budget/new", {"budget_id": budget, "max_budget": 10}),
        ("/customer/new", {"user_id": customer, "max_budget": 5}),
    ):
        response = admin.post(path, json=body)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    team_key = admin.post("/key/generate", json={"team_id": world.team_id, "key_alias": f"{world.slug}-team-key"})
    assert team_key.status_code == 200, team_key.text
    chat = world.client(proxy.base_url, world.member_key).post(
        "/v1/chat/completions",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": "x"}], "user": customer},
    )
    assert chat.status_code == 200, chat.text
    world.extras.update(customer_id=customer, budget_id=budget, team_key=team_key.json()["key"], chat=chat.status_code)
    admin.close()
    return world


@pytest.fixture(scope="module")
def scan_accounts(proxy: ProxyProcess, master_key: str) -> tuple[AccountWorld, AccountWorld]:
    base = proxy.base_url
    mine = _extend(proxy, build_account(base, master_key, "scanmine", with_model=True))
    other = _extend(proxy, build_account(base, master_key, "scanother", with_model=True))
    return mine, other


@pytest.fixture(scope="module")
def principals(
    proxy: ProxyProcess, scan_accounts: tuple[AccountWorld, AccountWorld]
) -> Iterator[dict[str, httpx.Client]]:
    mine, _ = scan_accounts
    keys = {
        "admin": mine.admin_key,
        "member": mine.member_key,
        "team-key": str(mine.extras["team_key"]),
        "ui-session": mine.ui_session_key,
    }
    clients = {who: mine.client(proxy.base_url, key) for who, key in keys.items()}
    clients["ui-session"].cookies.set("token", mine.ui_session_cookie)
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def foreign_identifiers(database_url: str, scan_accounts: tuple[AccountWorld, AccountWorld]) -> dict[str, str]:
    found = asyncio.run(account_identifiers(database_url, scan_accounts[1].account_id))
    other = scan_accounts[1]
    # The source of truth must hold what the account visibly owns, or the scan proves nothing.
    for expected in (other.team_id, other.member_user, other.member_token, other.extras["customer_id"]):
        assert any(str(expected) in value for value in found), f"{expected} missing from F's identifiers"
    return found


def _call(
    client: httpx.Client, method: str, path: str, params: dict[str, str] | None, body: Any
) -> httpx.Response | str:
    try:
        if method in ("GET", "DELETE"):
            return client.request(method, path, params=params, timeout=20)
        return client.request(method, path, params=params, json=body, timeout=20)
    except httpx.TimeoutException:
        return "timeout"
    except httpx.HTTPError as exc:
        return f"transport error {type(exc).__name__}"


@dataclass(frozen=True)
class Answer:
    who: str
    method: str
    template: str
    status: int | None  # None: no answer (timeout, dropped connection)
    leaked: tuple[str, ...]
    text: str


def _scan(
    principals: dict[str, httpx.Client],
    identifiers: dict[str, str],
    calls: list[tuple[str, str, str, dict[str, str] | None, Any]],
) -> list[Answer]:
    answers: list[Answer] = []
    for who, client in principals.items():
        for method, template, path, params, body in calls:
            response = _call(client, method, path, params, body)
            if isinstance(response, str):
                answers.append(Answer(who, method, template, None, (), response))
                continue
            sent = str(response.request.url) + response.request.content.decode(errors="replace")
            received = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            found = tuple(found_in(received, identifiers, sent))
            answers.append(Answer(who, method, template, response.status_code, found, response.text[:200]))
    assert sum(a.status is not None for a in answers) > len(OPEN), "the scan did not reach the proxy"
    return answers


@pytest.fixture(scope="module")
def own_answers(
    principals: dict[str, httpx.Client],
    scan_accounts: tuple[AccountWorld, AccountWorld],
    foreign_identifiers: dict[str, str],
) -> list[Answer]:
    mine, _ = scan_accounts
    calls = [
        (m, t, _path(t, mine), _query(mine) if m == "GET" else None, _OWN_WRITE_BODY if m != "GET" else None)
        for m, t in OPEN
    ]
    return _scan(principals, foreign_identifiers, calls)


@pytest.fixture(scope="module")
def foreign_answers(
    principals: dict[str, httpx.Client],
    scan_accounts: tuple[AccountWorld, AccountWorld],
    foreign_identifiers: dict[str, str],
) -> list[Answer]:
    _, other = scan_accounts
    calls = [(m, t, _path(t, other), _query(other), _body(other)) for m, t in OPEN]
    chosen = {who: principals[who] for who in ("admin", "member")}
    return _scan(chosen, foreign_identifiers, calls)


def _leaks(answers: list[Answer]) -> list[str]:
    return [f"{a.who} {a.method} {a.template} -> {a.status}: {list(a.leaked[:5])}" for a in answers if a.leaked]


def _server_errors(answers: list[Answer]) -> list[str]:
    """5xx (or no answer) on management routes: LiteLLM answers those itself, no upstream involved."""
    return [
        f"{a.who} {a.method} {a.template} -> {a.status}: {a.text}"
        for a in answers
        if (a.status is None or a.status >= 500) and str(POLICY.entry_for(a.method, a.template).route_class) != "llm"  # type: ignore[union-attr]
    ]


def test_scan_covers_the_open_routes() -> None:
    classes = {str(POLICY.entry_for(m, p).route_class) for m, p in OPEN}  # type: ignore[union-attr]
    assert classes == {"llm", "tenant", "replaced"}, classes
    assert any(p == "/model/info" for _, p in OPEN) and any(p == "/v1/chat/completions" for _, p in OPEN)


def test_own_calls_receive_nothing_of_another_account(own_answers: list[Answer]) -> None:
    leaks = _leaks(own_answers)
    assert not leaks, "another account's identifiers in responses:\n" + "\n".join(leaks)


def test_calls_naming_another_account_receive_nothing_of_it(foreign_answers: list[Answer]) -> None:
    leaks = _leaks(foreign_answers)
    assert not leaks, "another account's identifiers in responses:\n" + "\n".join(leaks)


def test_management_routes_never_answer_5xx(own_answers: list[Answer], foreign_answers: list[Answer]) -> None:
    """A refusal is a 4xx: neither the tenant's own calls nor calls naming another account fail as 5xx."""
    errors = _server_errors(own_answers + foreign_answers)
    assert not errors, "management routes answered 5xx:\n" + "\n".join(errors)
