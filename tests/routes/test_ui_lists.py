"""The admin UI's list routes (replaced in routes.toml) answer a tenant its own account, in LiteLLM's shape.

Two accounts are built through the API with real spend (chat requests through the fake upstream,
one of them for an end user) and a budget each. For every route: A's admin sees exactly A's rows
(compared with the database), A's member only what LiteLLM shows a non-admin, B's ids as filters
give nothing (the reference check: 404), no identifier of B appears in any answer of A, bad input
is a 4xx, and the keys of the answer are those of LiteLLM's own answer to the super admin.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import openai
import pytest

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

HEX64 = 64


@dataclass
class Lists:
    a: AccountWorld
    b: AccountWorld
    viewer_key: str  # an account viewer of A
    root: httpx.Client
    dsn: str

    def get(self, key: str | None, path: str, **params: Any) -> httpx.Response:
        """``path`` read with ``key`` (None: without credentials)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.get(f"{self.root.base_url}{path}", params=params, headers=headers, timeout=60)

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return asyncio.run(_fetch(self.dsn, sql, *args))

    def values(self, table: str, column: str, world: AccountWorld) -> set[Any]:
        """``column`` of the rows of ``table`` the database gives to ``world``'s account."""
        rows = self.rows(f'SELECT "{column}" AS v FROM "{table}" WHERE account_id = $1', world.account_id)
        return {r["v"] for r in rows}


async def _fetch(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def foreign(world: AccountWorld) -> list[str]:
    """Strings of B that must never appear in an answer to A."""
    return [*world.canaries, f"{world.slug}.example", str(world.extras["model_id"])]


def clean_of(response: httpx.Response, world: AccountWorld) -> None:
    leaked = [c for c in foreign(world) if c in response.text]
    assert not leaked, f"{response.request.url}: {leaked} in {response.text[:300]}"


def _spend_of(dsn: str, account_id: str) -> int:
    return asyncio.run(_fetch(dsn, 'SELECT count(*) AS n FROM "LiteLLM_SpendLogs" WHERE account_id = $1', account_id))[
        0
    ]["n"]


@pytest.fixture(scope="module")
def lists(proxy: ProxyProcess, master_key: str, database_url: str) -> Iterator[Lists]:
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=60)
    run = uuid.uuid4().hex[:6]  # slugs are unique per gateway
    worlds = [build_account(proxy.base_url, master_key, f"{name}{run}", with_model=True) for name in ("lsta", "lstb")]
    for world in worlds:
        admin = world.client(proxy.base_url, world.admin_key)
        budget = admin.post("/budget/new", json={"budget_id": f"{world.slug}-budget", "max_budget": 12.5})
        assert budget.status_code == 200, budget.text
        client = openai.OpenAI(api_key=world.admin_key, base_url=f"{proxy.base_url}/v1")
        client.chat.completions.create(
            model="gpt-fake", messages=[{"role": "user", "content": "admin spend"}], user=f"{world.slug}-cust"
        )
        # The admin's spend in the team too, so a member's view of the team has someone else's to hide.
        team_key = admin.post("/key/generate", json={"user_id": world.admin_user, "team_id": world.team_id})
        assert team_key.status_code == 200, team_key.text
        openai.OpenAI(api_key=team_key.json()["key"], base_url=f"{proxy.base_url}/v1").chat.completions.create(
            model="gpt-fake", messages=[{"role": "user", "content": "team spend"}]
        )
    a, b = worlds
    viewer_user = {"account_id": a.account_id, "user_id": f"{a.slug}-viewer", "role": "viewer"}
    added = root.post("/account/admin/add", json=viewer_user)
    assert added.status_code == 200, added.text
    acting = {"X-Atrium-Account": a.account_id}
    viewer = root.post("/key/generate", json={"user_id": f"{a.slug}-viewer"}, headers=acting)
    assert viewer.status_code == 200, viewer.text
    deadline = time.monotonic() + 120  # spend logs are written by LiteLLM's batch job
    while min(_spend_of(database_url, w.account_id) for w in worlds) < 3 and time.monotonic() < deadline:
        time.sleep(1)
    assert min(_spend_of(database_url, w.account_id) for w in worlds) >= 3
    yield Lists(a, b, viewer.json()["key"], root, database_url)
    root.close()


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "filter[startTime][gte]": (now - timedelta(days=1)).isoformat(),
        "filter[startTime][lte]": (now + timedelta(days=1)).isoformat(),
    }


_SUMMARY_FIELDS = frozenset({"startTime", "spend", "users", "models"})


def _days() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"start_date": (today - timedelta(days=1)).isoformat(), "end_date": (today + timedelta(days=1)).isoformat()}


def _keys(item: Any) -> set[str]:
    # LiteLLM adds one entry per key hash (HEX64) and, proxy-wide, entries for rows without a
    # hashed key (health checks: '' and their internal name); only the day's own fields compare.
    return {k for k in item if k in _SUMMARY_FIELDS} if isinstance(item, dict) else set()


# -- spend logs (legacy /spend/logs) ---------------------------------------------------------------


def test_spend_logs_list_the_accounts_rows(lists: Lists) -> None:
    a, b = lists.a, lists.b
    own = lists.values("LiteLLM_SpendLogs", "request_id", a)
    for key in (a.admin_key, lists.viewer_key):
        answer = lists.get(key, "/spend/logs")
        assert answer.status_code == 200, answer.text
        assert {r["request_id"] for r in answer.json()} == own
        clean_of(answer, b)
    mine = lists.get(a.member_key, "/spend/logs")
    assert mine.status_code == 200, mine.text
    assert mine.json() and {r["user"] for r in mine.json()} == {a.member_user}
    assert lists.get(a.member_key, "/spend/logs", user_id=a.admin_user).json() == mine.json()  # forced to its own
    assert lists.get(None, "/spend/logs").status_code == 401  # LiteLLM's answer without credentials
    root_rows = lists.root.get("/spend/logs").json()
    assert _keys(lists.get(a.admin_key, "/spend/logs").json()[0]) == _keys(root_rows[0])


def test_spend_logs_filters_and_summary(lists: Lists) -> None:
    a, b = lists.a, lists.b
    assert lists.get(a.admin_key, "/spend/logs", user_id=b.member_user).status_code == 404
    assert lists.get(a.admin_key, "/spend/logs", api_key=b.member_key).status_code == 404
    b_request = lists.rows('SELECT request_id FROM "LiteLLM_SpendLogs" WHERE account_id = $1', b.account_id)[0]
    assert lists.get(a.admin_key, "/spend/logs", request_id=b_request["request_id"]).json() == []
    by_user = lists.get(a.admin_key, "/spend/logs", user_id=a.member_user).json()
    assert by_user and {r["user"] for r in by_user} == {a.member_user}
    summary = lists.get(a.admin_key, "/spend/logs", **_days())
    assert summary.status_code == 200, summary.text
    clean_of(summary, b)
    total = lists.rows('SELECT sum(spend) AS s FROM "LiteLLM_SpendLogs" WHERE account_id = $1', a.account_id)[0]["s"]
    assert sum(day["spend"] for day in summary.json()) == pytest.approx(total)
    assert all(f"{a.account_id}/" not in str(day["models"]) for day in summary.json())
    root_days = lists.root.get("/spend/logs", params=_days()).json()
    assert {frozenset(_keys(d)) for d in summary.json()} == {frozenset(_keys(d)) for d in root_days}
    assert all(len(k) == HEX64 for d in summary.json() for k in set(d) - _SUMMARY_FIELDS)
    unsummarized = lists.get(a.admin_key, "/spend/logs", summarize="false", **_days())
    assert {r["request_id"] for r in unsummarized.json()} >= {r["request_id"] for r in by_user}
    for bad in ({"start_date": "yesterday", "end_date": "2030-01-01"}, {"summarize": "maybe"}):
        refused = lists.get(a.admin_key, "/spend/logs", **bad)
        assert 400 <= refused.status_code < 500, refused.text


# -- spend-log filter options --------------------------------------------------------------------


@pytest.mark.parametrize(("facet", "column"), [("users", "user"), ("end_users", "end_user")])
def test_spend_log_filters_of_the_account(lists: Lists, facet: str, column: str) -> None:
    a, b = lists.a, lists.b
    path = f"/management/v1/spend_logs/{facet}"
    stored = lists.rows(
        f'SELECT DISTINCT "{column}" AS v FROM "LiteLLM_SpendLogs" WHERE account_id = $1 AND "{column}" <> $2',
        a.account_id,
        "",
    )
    expected = sorted(str(r["v"]).removeprefix(f"{a.account_id}/") for r in stored if r["v"])
    answer = lists.get(a.admin_key, path, **_window())
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == expected and expected
    clean_of(answer, b)
    mine = lists.get(a.member_key, path, **_window()).json()["data"]
    assert mine == ([a.member_user] if column == "user" else [])
    assert lists.get(a.admin_key, path, q=b.slug, **_window()).json()["data"] == []
    root = lists.root.get(path, params=_window()).json()
    assert set(answer.json()) == set(root) and set(answer.json()["meta"]) == set(root["meta"])
    assert set(answer.json()["links"]) == set(root["links"])
    for bad in ({}, {**_window(), "bogus": "1"}, {**_window(), "page": "0"}, {**_window(), "page_size": "x"}):
        refused = lists.get(a.admin_key, path, **bad)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert set(refused.json()) >= {"type", "title", "status", "detail"}


# -- budgets ---------------------------------------------------------------------------------------


def test_budgets_of_the_account(lists: Lists) -> None:
    a, b = lists.a, lists.b
    own = lists.values("LiteLLM_BudgetTable", "budget_id", a)
    assert f"{a.slug}-budget" in own
    for key in (a.admin_key, lists.viewer_key):
        answer = lists.get(key, "/management/v1/budgets")
        assert answer.status_code == 200, answer.text
        assert {r["budget_id"] for r in answer.json()["data"]} == own
        assert answer.json()["meta"]["total_count"] == len(own)
        clean_of(answer, b)
    assert lists.get(a.admin_key, "/management/v1/budgets", q=b.slug).json()["data"] == []
    limited = lists.get(a.admin_key, "/management/v1/budgets", **{"filter[max_budget][gte]": "12"}).json()
    assert [r["budget_id"] for r in limited["data"]] == [f"{a.slug}-budget"]
    denied = lists.get(a.member_key, "/management/v1/budgets")
    assert denied.status_code == 403 and denied.json()["status"] == 403, denied.text
    root = lists.root.get("/management/v1/budgets").json()
    answer = lists.get(a.admin_key, "/management/v1/budgets").json()
    assert set(answer) == set(root) and set(answer["links"]) == set(root["links"])
    assert set(answer["data"][0]) == set(root["data"][0])
    for bad in ({"sort": "password"}, {"page": "x"}, {"bogus": "1"}, {"filter[created_at][gte]": "soon"}):
        refused = lists.get(a.admin_key, "/management/v1/budgets", **bad)
        assert refused.status_code == 400 and refused.json()["status"] == 400, refused.text


# -- key aliases -----------------------------------------------------------------------------------


def test_key_aliases_of_the_account(lists: Lists) -> None:
    a, b = lists.a, lists.b
    stored = lists.rows(
        'SELECT key_alias FROM "LiteLLM_VerificationToken" WHERE account_id = $1 AND key_alias IS NOT NULL '
        "AND (team_id IS NULL OR team_id <> 'litellm-dashboard')",
        a.account_id,
    )
    answer = lists.get(a.admin_key, "/key/aliases")
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["aliases"]) == sorted(r["key_alias"] for r in stored)
    assert answer.json()["total_count"] == len(stored)
    clean_of(answer, b)
    mine = lists.get(a.member_key, "/key/aliases").json()["aliases"]
    assert f"{a.slug}-member-key" in mine and f"{a.slug}-admin-key" not in mine
    assert lists.get(a.admin_key, "/key/aliases", search=b.slug).json()["aliases"] == []
    assert lists.get(a.admin_key, "/key/aliases", team_id=b.team_id).status_code == 404
    assert set(answer.json()) == set(lists.root.get("/key/aliases").json())
    for bad in ({"size": "1000"}, {"page": "0"}):
        assert lists.get(a.admin_key, "/key/aliases", **bad).status_code == 422


# -- team spend by user ----------------------------------------------------------------------------


def test_team_spend_by_user_of_the_account(lists: Lists) -> None:
    a, b = lists.a, lists.b
    query = {"team_ids": a.team_id, **_days()}
    answer = lists.get(a.admin_key, "/team/spend/by_user", **query)
    assert answer.status_code == 200, answer.text
    stored = lists.rows(
        'SELECT "user", sum(spend) AS s FROM "LiteLLM_SpendLogs" WHERE account_id = $1 AND team_id = $2 GROUP BY 1',
        a.account_id,
        a.team_id,
    )
    assert {r["user_id"]: r["spend"] for r in answer.json()["results"]} == pytest.approx(
        {r["user"]: r["s"] for r in stored}
    )
    assert {r["user"] for r in stored} == {a.member_user, a.admin_user}
    clean_of(answer, b)
    mine = lists.get(a.member_key, "/team/spend/by_user", **query)
    assert mine.status_code == 200, mine.text
    assert {r["user_id"] for r in mine.json()["results"]} == {a.member_user}
    assert lists.get(a.admin_key, "/team/spend/by_user", team_ids=b.team_id, **_days()).status_code == 404
    root = lists.root.get("/team/spend/by_user", params=query).json()
    assert set(answer.json()) == set(root) and set(answer.json()["results"][0]) == set(root["results"][0])
    for bad in ({"team_ids": a.team_id}, {"team_ids": a.team_id, "start_date": "x", "end_date": "y"}, _days()):
        refused = lists.get(a.admin_key, "/team/spend/by_user", **bad)
        assert refused.status_code == 400, refused.text
        assert "error" in refused.json()["detail"]


# -- users -----------------------------------------------------------------------------------------


def test_user_info_admin_view_is_the_accounts(lists: Lists) -> None:
    a, b = lists.a, lists.b
    teams = lists.values("LiteLLM_TeamTable", "team_id", a)
    keys = {
        r["token"]
        for r in lists.rows(
            'SELECT token FROM "LiteLLM_VerificationToken" WHERE account_id = $1 '
            "AND (team_id IS NULL OR team_id <> 'litellm-dashboard')",
            a.account_id,
        )
    }
    for key, user in ((a.admin_key, a.admin_user), (lists.viewer_key, f"{a.slug}-viewer")):
        answer = lists.get(key, "/user/info")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["user_id"] == user and body["user_info"]["user_id"] == user
        assert {t["team_id"] for t in body["teams"]} == teams
        assert {k["token"] for k in body["keys"]} == keys
        assert "password" not in body["user_info"]
        clean_of(answer, b)
    root = lists.root.get("/user/info").json()
    body = lists.get(a.admin_key, "/user/info").json()
    assert set(body) == set(root)
    assert set(body["teams"][0]) == set(root["teams"][0]) and set(body["keys"][0]) == set(root["keys"][0])


def test_user_info_of_another_user(lists: Lists) -> None:
    a, b = lists.a, lists.b
    member = lists.get(a.admin_key, "/user/info", user_id=a.member_user)
    assert member.status_code == 200, member.text
    assert member.json()["user_id"] == a.member_user
    assert a.member_token in {k["token"] for k in member.json()["keys"]}
    clean_of(member, b)
    assert lists.get(lists.viewer_key, "/user/info", user_id=a.member_user).status_code == 200
    refused = lists.get(a.member_key, "/user/info", user_id=a.admin_user)
    assert refused.status_code == 403, refused.text
    assert lists.get(a.member_key, "/user/info").json()["user_id"] == a.member_user
    for key in (a.admin_key, a.member_key):
        assert lists.get(key, "/user/info", user_id=b.member_user).status_code == 404


@pytest.mark.parametrize("path", ["/user/list", "/v2/user/info"])
def test_user_lists_are_the_accounts(lists: Lists, path: str) -> None:
    a, b = lists.a, lists.b
    own = lists.values("LiteLLM_UserTable", "user_id", a)
    if path == "/user/list":
        answer = lists.get(a.admin_key, path, page_size="100")
        assert answer.status_code == 200, answer.text
        assert {u["user_id"] for u in answer.json()["users"]} == own
    else:
        answer = lists.get(a.admin_key, path, user_id=a.member_user)
        assert answer.status_code == 200 and answer.json()["user_id"] == a.member_user, answer.text
        assert lists.get(a.admin_key, path, user_id=b.member_user).status_code == 404
    clean_of(answer, b)


# -- registries (guardrails, policies, prompts, agents, MCP, vector stores) ------------------------

# (path, list field (None: a bare list), LiteLLM's status for an internal user: its route checks
# refuse internal users the policy and prompt lists, and the replacement relays that refusal).
REGISTRIES = [
    ("/guardrails/list", "guardrails", 200),
    ("/v2/guardrails/list", "guardrails", 200),
    ("/policies/list", "policies", 401),
    ("/policy/list", "policies", 401),
    ("/prompts/list", "prompts", 401),
    ("/v1/agents", None, 200),
    ("/v1/mcp/server", None, 200),
    ("/v1/mcp/toolset", None, 200),
    ("/vector_store/list", "data", 200),
    ("/v1/vector_store/list", "data", 200),
]


def _items(body: Any, field: str | None) -> Any:
    return body if field is None else body[field]


@pytest.mark.parametrize(("path", "field", "member_status"), REGISTRIES)
def test_registry_lists_hold_only_the_accounts_entries(
    lists: Lists, path: str, field: str | None, member_status: int
) -> None:
    a, b = lists.a, lists.b
    root = lists.root.get(path)
    assert root.status_code == 200, root.text
    refused = lists.get(a.member_key, path)
    assert refused.status_code == member_status, refused.text
    clean_of(refused, b)
    for key in (a.admin_key, lists.viewer_key, a.member_key)[: 3 if member_status == 200 else 2]:
        answer = lists.get(key, path)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert type(body) is type(root.json())
        if field is not None:
            assert set(body) == set(root.json())
        listed = _items(body, field)
        assert all(f"{b.slug}-" not in str(item) for item in listed)
        assert all(lists.b.account_id not in str(item) for item in listed)
        clean_of(answer, b)


def test_registry_entries_of_the_account_are_listed(lists: Lists) -> None:
    """Entries the super admin created and the database gives to A or B: A sees A's only."""
    a, b = lists.a, lists.b
    made: dict[str, str] = {}
    for world in (a, b):
        policy = lists.root.post("/policies", json={"policy_name": f"{world.slug}-policy", "guardrails_add": []})
        assert policy.status_code == 200, policy.text
        made[world.slug] = policy.json()["policy_id"]
        lists.rows(
            'UPDATE "LiteLLM_PolicyTable" SET account_id = $1 WHERE policy_id = $2', world.account_id, made[world.slug]
        )
    everything = {p["policy_id"] for p in lists.root.get("/policies/list").json()["policies"]}
    assert {made[a.slug], made[b.slug]} <= everything  # LiteLLM lists both to the super admin
    for key in (a.admin_key, lists.viewer_key):
        answer = lists.get(key, "/policies/list")
        assert [p["policy_id"] for p in answer.json()["policies"]] == [made[a.slug]], answer.text
        assert answer.json()["total_count"] == 1
        clean_of(answer, b)
    mine = lists.get(b.admin_key, "/policies/list").json()["policies"]
    assert [p["policy_id"] for p in mine] == [made[b.slug]]


@pytest.mark.parametrize(
    ("path", "bad"),
    [("/vector_store/list", {"page_size": "0"}), ("/v1/agents", {"top_k": "0"}), ("/prompts/list", {"x": "1"})],
)
def test_registry_lists_refuse_bad_input_with_4xx(lists: Lists, path: str, bad: dict[str, str]) -> None:
    answer = lists.get(lists.a.admin_key, path, **bad)
    expected = lists.root.get(path, params=bad).status_code
    assert answer.status_code == expected and answer.status_code < 500, answer.text


# -- model cost map --------------------------------------------------------------------------------


def _cost_map(lists: Lists, key: str | None, **params: str) -> dict[str, Any]:
    answer = lists.get(key, "/public/litellm_model_cost_map", **params)
    assert answer.status_code == 200, answer.text[:300]
    body: dict[str, Any] = answer.json()
    return body


def test_model_cost_map_is_the_catalogue_and_the_callers_own_models(lists: Lists) -> None:
    a, b = lists.a, lists.b
    full = lists.root.get("/public/litellm_model_cost_map").text
    deadline = time.monotonic() + 90  # each worker registers a deployment once it has loaded it
    while not all(str(w.extras["model_id"]) in full for w in (a, b)) and time.monotonic() < deadline:
        time.sleep(1)
        full = lists.root.get("/public/litellm_model_cost_map").text
    assert all(str(w.extras["model_id"]) in full for w in (a, b))  # what LiteLLM serves anyone
    catalogue = lists.root.get("/public/litellm_model_cost_map", params={"catalog_only": "true"}).json()
    assert _cost_map(lists, None) == catalogue == _cost_map(lists, None, catalog_only="true")
    for key in (a.admin_key, a.member_key):
        mine = _cost_map(lists, key)
        while a.extras["model_name"] not in mine and time.monotonic() < deadline:
            time.sleep(1)
            mine = _cost_map(lists, key)
        assert set(mine) == set(catalogue) | {a.extras["model_name"]}
        shown = str(mine[a.extras["model_name"]])
        assert f"{a.account_id}/" not in shown and "atrium_" not in shown
        assert not [c for c in foreign(b) if c in str({k: mine[k] for k in set(mine) - set(catalogue)})]
        assert str(b.extras["model_id"]) not in mine and f"{b.account_id}/" not in str(list(mine))
        assert _cost_map(lists, key, catalog_only="true") == catalogue
    assert lists.get(a.admin_key, "/public/litellm_model_cost_map", catalog_only="maybe").status_code == 422
