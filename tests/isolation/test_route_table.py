"""The isolation sweep, generated from the route table.

Every route the policy opens to tenant principals is called as account C's admin and
member, with account D's identifiers in the path, the query and the body. No response
may contain one of D's identifiers (unless the caller sent it), and afterwards every
row of D is exactly as before. Every route closed to tenants answers 403. A route newly
classified as open is swept automatically.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import asyncpg
import httpx
import pytest

from extensions.app import served_routes
from extensions.routes.replacements import HANDLERS
from extensions.tenancy.route_policy import load_policy
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

POLICY = load_policy()
ROUTES = served_routes(include_lazy=True)

# Routes whose effect is on the caller's own credentials; swept last so they cannot
# hide later results.
SELF_AFFECTING = re.compile(r"^/(session/logout|key/regenerate|key/\{[^}]+\}/regenerate|logout)")


def _http_routes(classes: set[str], *, handled: bool | None = None) -> list[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for route in ROUTES:
        if route.kind != "http":
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            entry = POLICY.entry_for(method, route.path)
            if entry is None or str(entry.route_class) not in classes:
                continue
            if handled is not None and (entry.handler in HANDLERS) is not handled:
                continue
            found.add((method, route.path, str(entry.route_class)))
    return sorted(found, key=lambda r: (bool(SELF_AFFECTING.match(r[1])), r[1], r[0]))


# Replaced routes are open once Atrium serves its tenant-scoped handler for them.
OPEN = _http_routes({"public", "llm", "tenant"}) + _http_routes({"replaced"}, handled=True)
CLOSED = _http_routes({"super_admin"}) + _http_routes({"replaced"}, handled=False)

TENANT_TABLES = [
    "LiteLLM_VerificationToken",
    "LiteLLM_TeamTable",
    "LiteLLM_UserTable",
    "LiteLLM_TeamMembership",
    "LiteLLM_BudgetTable",
    "LiteLLM_SpendLogs",
    "LiteLLM_ObjectPermissionTable",
    "LiteLLM_ProxyModelTable",
    "LiteLLM_CredentialsTable",
]


def _value_for(param: str, other: AccountWorld) -> str:
    name = param.lower()
    if "key" in name or "token" in name:
        return other.member_token
    if "user" in name:
        return other.member_user
    if name == "model_id":
        return str(other.extras["model_id"])
    if "credential" in name:
        return str(other.extras["credential_name"])
    if "model" in name:
        return "gpt-fake"
    return other.team_id


def concrete_path(template: str, other: AccountWorld) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]+)?\}", lambda m: _value_for(m.group(1), other), template)


def foreign_query(other: AccountWorld) -> dict[str, str]:
    # `key` / `api_key` query parameters are credentials on provider pass-through routes; a caller
    # holding another account's key (or hash) is out of scope. Lookups by key are probed in
    # test_deep_cases (/key/info?key=...).
    return {
        "team_id": other.team_id,
        "user_id": other.member_user,
        "key_hash": other.member_token,
        "account_id": other.account_id,
    }


def foreign_body(other: AccountWorld) -> dict[str, Any]:
    return {
        "key": other.member_token,
        "keys": [other.member_token],
        "team_id": other.team_id,
        "team_ids": [other.team_id],
        "user_id": other.member_user,
        "user_ids": [other.member_user],
        "account_id": other.account_id,
        "id": other.extras["model_id"],
        "model_id": other.extras["model_id"],
        "credential_name": other.extras["credential_name"],
        "model": "gpt-fake",
        "input": "x",
        "messages": [{"role": "user", "content": "x"}],
    }


async def _billed(dsn: str, token: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        spend = await conn.fetchval('SELECT spend FROM "LiteLLM_VerificationToken" WHERE token = $1', token)
        return bool(spend)
    finally:
        await conn.close()


async def _snapshot(dsn: str, account_id: str) -> dict[str, Any]:
    """Every row of the account in the checked tables, as JSON objects."""
    conn = await asyncpg.connect(dsn)
    try:
        out: dict[str, Any] = {}
        for table in TENANT_TABLES:
            rows = await conn.fetch(f'SELECT to_jsonb(t)::text AS j FROM "{table}" t WHERE account_id = $1', account_id)
            out[table] = sorted(r["j"] for r in rows)
        return out
    finally:
        await conn.close()


_ROW_KEYS = ("token", "request_id", "team_id", "user_id", "budget_id", "object_permission_id", "id")


def _row_key(row: dict[str, Any]) -> str:
    return next((f"{k}={row[k]}" for k in _ROW_KEYS if row.get(k) is not None), json.dumps(row, sort_keys=True))


def _diff(before: list[str], after: list[str]) -> list[str]:
    """Which columns of which rows changed, rows matched by their key; added and removed rows named."""
    old = {_row_key(r): r for r in map(json.loads, before)}
    new = {_row_key(r): r for r in map(json.loads, after)}
    changes = [f"added {k}" for k in new.keys() - old.keys()] + [f"removed {k}" for k in old.keys() - new.keys()]
    for key in old.keys() & new.keys():
        a, b = old[key], new[key]
        changes += [f"{key} {c}: {a.get(c)!r} -> {b.get(c)!r}" for c in sorted(set(a) | set(b)) if a.get(c) != b.get(c)]
    return changes


def _around(timeline: list[tuple[float, str]], changed: dict[str, list[str]]) -> str:
    """The sweep requests made in the 3 seconds before each changed timestamp."""
    from datetime import datetime

    lines: list[str] = []
    for changes in changed.values():
        for change in changes:
            match = re.search(r"-> '(\d{4}-\d\d-\d\dT[\d:.]+)'", change)
            if not match:
                continue
            at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC).timestamp()
            lines += [f"{t - at:+.2f}s {what}" for t, what in timeline if at - 3 <= t <= at + 0.5]
    return "\n".join(lines[-40:])


@pytest.fixture(scope="module")
def sweep_accounts(proxy: ProxyProcess, master_key: str) -> tuple[AccountWorld, AccountWorld]:
    return (
        build_account(proxy.base_url, master_key, "charlie", with_model=True),
        build_account(proxy.base_url, master_key, "delta", with_model=True),
    )


@pytest.fixture(scope="module")
def principals(
    proxy: ProxyProcess, sweep_accounts: tuple[AccountWorld, AccountWorld]
) -> Iterator[dict[str, httpx.Client]]:
    mine, _ = sweep_accounts
    clients = {
        "admin": mine.client(proxy.base_url, mine.admin_key),
        "member": mine.client(proxy.base_url, mine.member_key),
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def before(database_url: str, sweep_accounts: tuple[AccountWorld, AccountWorld]) -> dict[str, Any]:
    """D's rows once its own set-up traffic has been billed (spend is written asynchronously)."""
    account_id, member_token = sweep_accounts[1].account_id, sweep_accounts[1].member_token
    # Under load the spend writer can lag by seconds: wait for D's own chat to be billed first.
    deadline = time.monotonic() + 60
    while not asyncio.run(_billed(database_url, member_token)) and time.monotonic() < deadline:
        time.sleep(0.5)
    previous = asyncio.run(_snapshot(database_url, account_id))
    for _ in range(20):
        time.sleep(3)
        current = asyncio.run(_snapshot(database_url, account_id))
        if current == previous:
            return current
        previous = current
    raise AssertionError("account D's rows kept changing with no traffic")


def test_route_table_is_not_empty() -> None:
    assert len(OPEN) > 300 and len(CLOSED) > 300


def test_open_routes_never_return_or_change_another_accounts_data(
    principals: dict[str, httpx.Client],
    sweep_accounts: tuple[AccountWorld, AccountWorld],
    before: dict[str, str | None],
    database_url: str,
) -> None:
    _, other = sweep_accounts
    leaks: list[str] = []
    timeline: list[tuple[float, str]] = []
    swept = 0
    for method, template, route_class in OPEN:
        path = concrete_path(template, other)
        for who, client in principals.items():
            try:
                if method in ("GET", "DELETE"):
                    response = client.request(method, path, params=foreign_query(other), timeout=15)
                else:
                    response = client.request(
                        method, path, params=foreign_query(other), json=foreign_body(other), timeout=15
                    )
            except httpx.HTTPError:
                continue  # a hung or dropped call returns nothing, so it cannot leak
            swept += 1
            timeline.append((time.time(), f"{who} {method} {path} -> {response.status_code}"))
            sent = str(response.request.url) + response.request.content.decode(errors="replace")
            found = [c for c in other.canaries if c in response.text and c not in sent]
            if found:
                leaks.append(f"{who} {method} {template} [{route_class}] -> {response.status_code}: {found}")
    assert swept > len(OPEN), "the sweep did not reach the proxy"
    assert not leaks, "cross-account data returned:\n" + "\n".join(leaks)
    after = asyncio.run(_snapshot(database_url, other.account_id))
    changed = {t: _diff(before[t], after[t]) for t in TENANT_TABLES if after[t] != before[t]}
    assert not changed, f"another account's rows changed: {changed}\n" + _around(timeline, changed)


def test_closed_routes_answer_403_to_tenant_principals(
    principals: dict[str, httpx.Client], sweep_accounts: tuple[AccountWorld, AccountWorld]
) -> None:
    _, other = sweep_accounts
    wrong: list[str] = []
    admin = principals["admin"]
    for method, template, route_class in CLOSED:
        response = admin.request(
            method, concrete_path(template, other), json={} if method != "GET" else None, timeout=15
        )
        if response.status_code != 403:
            wrong.append(f"{method} {template} [{route_class}] -> {response.status_code}")
    assert not wrong, "closed routes reachable by a tenant admin:\n" + "\n".join(wrong)
