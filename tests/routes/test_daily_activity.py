"""The Home and Usage pages' daily-activity routes answer a tenant its own account's figures.

Two accounts spend for real (chat requests through the fake upstream, on a global model and on a
model of their own, with an end user and a tag; one request fails), LiteLLM's batch writer fills
the daily tables, and then:

- A's admin sees exactly A's totals on every route, and the same body LiteLLM's own handler gives
  the super admin for a filter that selects only A's rows (A's model names in their public form);
- A's members see what LiteLLM shows a non-admin: their own user, their own keys, no customers;
- B's ids as filters give 404 or nothing, and no answer to A names anything of B;
- bad input is a 4xx in LiteLLM's error form, never a 5xx.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import httpx
import pytest

from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

TODAY = datetime.now(UTC).date()
RANGE = {"start_date": (TODAY - timedelta(days=1)).isoformat(), "end_date": (TODAY + timedelta(days=1)).isoformat()}
SERVE_LIMIT_S = 60.0  # LiteLLM reloads DB models every 30 s


@dataclass
class Usage:
    a: AccountWorld
    b: AccountWorld
    dsn: str
    base_url: str
    master_key: str
    team_keys: dict[str, str]

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def root(self) -> httpx.Client:
        return self.client(self.master_key)


def _chat(base_url: str, key: str, model: str, text: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": text}], **extra},
        timeout=60,
    )


def _own_model(base_url: str, world: AccountWorld, upstream: FakeUpstream) -> int:
    """A model of the account's own, ``gpt-own``, stored as ``<account_id>/gpt-own``; returns the
    number of probe requests it took (each is billed)."""
    admin = world.client(base_url, world.admin_key)
    params = {
        "model": "openai/gpt-own-upstream",
        "api_base": upstream.base_url,
        "api_key": f"sk-{world.slug}-upstream",
        "input_cost_per_token": 0.01,
        "output_cost_per_token": 0.02,
    }
    created = admin.post("/model/new", json={"model_name": "gpt-own", "litellm_params": params})
    assert created.status_code == 200, created.text
    deadline, streak, probes = time.monotonic() + SERVE_LIMIT_S, 0, 0
    while streak < 6:  # every worker: they are picked at random
        assert time.monotonic() < deadline, f"{world.slug}'s gpt-own was not served in time"
        streak = streak + 1 if _chat(base_url, world.admin_key, "gpt-own", "probe").status_code == 200 else 0
        probes += 1
        time.sleep(0.1 if streak else 1.0)
    return probes


def _spend(base_url: str, world: AccountWorld, extra_requests: int) -> None:
    slug = world.slug
    tagged = {"user": f"{slug}-cust", "metadata": {"tags": [f"{slug}-tag"]}}
    assert _chat(base_url, world.admin_key, "gpt-own", f"{slug} own", **tagged).status_code == 200
    assert _chat(base_url, world.admin_key, "gpt-fake", "ERROR 500").status_code >= 500
    for i in range(extra_requests):
        assert _chat(base_url, world.member_key, "gpt-fake", f"{slug} {i}", user=f"{slug}-cust").status_code == 200


async def _table_state(dsn: str, account_ids: list[str]) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(dsn)
    try:
        state = []
        for table in ("LiteLLM_DailyUserSpend", "LiteLLM_DailyTeamSpend", "LiteLLM_DailyTagSpend",
                      "LiteLLM_DailyEndUserSpend", "LiteLLM_SpendLogs"):  # fmt: skip
            rows = await conn.fetch(
                f'SELECT account_id, count(*) AS n, sum(spend)::float AS s FROM "{table}" '
                "WHERE account_id = ANY($1::text[]) GROUP BY account_id ORDER BY account_id",
                account_ids,
            )
            state.append((table, tuple(tuple(r) for r in rows)))
        return state
    finally:
        await conn.close()


def _settled(dsn: str, worlds: list[AccountWorld]) -> None:
    """Until every account has rows in every daily table and nothing changed for 5 s (the test
    gateway writes spend every second; tag rows come last)."""
    ids = [w.account_id for w in worlds]
    deadline = time.monotonic() + 90
    previous, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = asyncio.run(_table_state(dsn, ids))
        complete = all(len(rows) == len(ids) for _, rows in state)
        if state != previous or not complete:
            previous, quiet_since = state, time.monotonic()
        elif time.monotonic() - quiet_since >= 5:
            return
        time.sleep(1)
    raise AssertionError(f"spend did not settle: {previous}")


@pytest.fixture(scope="module")
def usage(proxy: ProxyProcess, master_key: str, database_url: str, upstream: FakeUpstream) -> Iterator[Usage]:
    a = build_account(proxy.base_url, master_key, "usga")
    b = build_account(proxy.base_url, master_key, "usgb")
    team_keys, probes = {}, {}
    for world in (a, b):
        probes[world.slug] = _own_model(proxy.base_url, world, upstream)
        team_key = world.client(proxy.base_url, world.admin_key).post("/key/generate", json={"team_id": world.team_id})
        team_keys[world.slug] = team_key.json()["key"]
    _spend(proxy.base_url, a, extra_requests=1)
    # B makes more requests than A, probes included: its totals then differ from A's in every table.
    _spend(proxy.base_url, b, extra_requests=max(3, probes["usga"] - probes["usgb"] + 3))
    _settled(database_url, [a, b])
    asyncio.run(_two_days(database_url, [a.account_id, b.account_id]))
    yield Usage(a, b, database_url, proxy.base_url, master_key, team_keys)


async def _two_days(dsn: str, account_ids: list[str]) -> None:
    """The workload across two days: the requests to each account's own model happened yesterday
    (the gateway bills today only), moved in the request rows and in their daily roll-ups alike."""
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for table in ("LiteLLM_DailyUserSpend", "LiteLLM_DailyTeamSpend", "LiteLLM_DailyTagSpend",
                          "LiteLLM_DailyEndUserSpend"):  # fmt: skip
                await conn.execute(
                    f'UPDATE "{table}" SET date = $1 WHERE account_id = ANY($2::text[]) AND model_group LIKE $3',
                    yesterday,
                    account_ids,
                    "%/gpt-own",
                )
            await conn.execute(
                'UPDATE "LiteLLM_SpendLogs" SET "startTime" = "startTime" - interval \'1 day\', '
                '"endTime" = "endTime" - interval \'1 day\' WHERE account_id = ANY($1::text[]) AND model_group LIKE $2',
                account_ids,
                "%/gpt-own",
            )
    finally:
        await conn.close()


# --- helpers -----------------------------------------------------------------------------------


async def _db(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def totals_in_db(usage: Usage, table: str, account_id: str, extra: str = "", *args: Any) -> tuple[float, int, int]:
    """(spend, api_requests, prompt tokens) of the account's rows of ``table`` in RANGE."""
    rows = asyncio.run(
        _db(
            usage.dsn,
            f"SELECT coalesce(sum(spend), 0)::float AS s, coalesce(sum(api_requests), 0)::bigint AS r, "
            f'coalesce(sum(prompt_tokens), 0)::bigint AS p FROM "{table}" '
            f"WHERE account_id = $1 AND date >= $2 AND date <= $3 {extra}",
            account_id,
            RANGE["start_date"],
            RANGE["end_date"],
            *args,
        )
    )
    return rows[0]["s"], rows[0]["r"], rows[0]["p"]


def totals_of(body: dict[str, Any]) -> tuple[float, int, int]:
    meta = body["metadata"]
    return meta["total_spend"], meta["total_api_requests"], meta["total_prompt_tokens"]


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, f"{response.request.url}: {response.status_code} {response.text[:500]}"
    return response.json()


def public(account_id: str, body: Any) -> Any:
    """LiteLLM's answer with the account's internal names in their public form."""
    return json.loads(json.dumps(body).replace(f"{account_id}/", ""))


def assert_nothing_of(other: AccountWorld, text: str) -> None:
    for canary in [*other.canaries, f"{other.slug}-cust", f"{other.slug}-tag"]:
        assert canary not in text, f"{canary!r} of account {other.slug} in: {text[:800]}"


def assert_close(found: tuple[float, int, int], expected: tuple[float, int, int]) -> None:
    assert found[1:] == expected[1:] and found[0] == pytest.approx(expected[0]), (found, expected)


TABLES = {
    "/user": "LiteLLM_DailyUserSpend",
    "/team": "LiteLLM_DailyTeamSpend",
    "/tag": "LiteLLM_DailyTagSpend",
    "/customer": "LiteLLM_DailyEndUserSpend",
    "/end_user": "LiteLLM_DailyEndUserSpend",
}


# --- the admin's view: exactly the account's figures -------------------------------------------


@pytest.mark.parametrize("prefix", sorted(TABLES))
def test_admin_sees_exactly_the_accounts_totals(usage: Usage, prefix: str) -> None:
    a, b = usage.a, usage.b
    with usage.client(a.admin_key) as admin:
        body = ok(admin.get(f"{prefix}/daily/activity/aggregated", params=RANGE))
    own = totals_in_db(usage, TABLES[prefix], a.account_id)
    other = totals_in_db(usage, TABLES[prefix], b.account_id)
    assert own[1] > 0 and other[1] > own[1], "both accounts spent, B more than A"
    assert_close(totals_of(body), own)
    assert sum(day["metrics"]["api_requests"] for day in body["results"]) == own[1]
    days = asyncio.run(
        _db(
            usage.dsn,
            f'SELECT count(DISTINCT date) AS n FROM "{TABLES[prefix]}" '
            "WHERE account_id = $1 AND date >= $2 AND date <= $3",
            a.account_id,
            RANGE["start_date"],
            RANGE["end_date"],
        )
    )[0]["n"]
    assert len(body["results"]) == days and (prefix != "/user" or days == 2), "the workload spans two days"
    assert_nothing_of(b, json.dumps(body))


def test_usage_figures_are_the_accounts_spend_logs_and_the_super_admin_sees_both(usage: Usage) -> None:
    """The Usage page's totals equal the sums over the account's own request rows (the daily tables
    are LiteLLM's roll-up of them); the super admin's LiteLLM figures hold both accounts."""
    a, b = usage.a, usage.b
    with usage.client(a.admin_key) as admin:
        mine = totals_of(ok(admin.get("/user/daily/activity/aggregated", params=RANGE)))
    with usage.root() as root:
        everyone = totals_of(ok(root.get("/user/daily/activity/aggregated", params=RANGE)))
    sums = {}
    for world in (a, b):
        row = asyncio.run(
            _db(
                usage.dsn,
                'SELECT coalesce(sum(spend), 0)::float AS s, count(*) AS r FROM "LiteLLM_SpendLogs" '
                "WHERE account_id = $1",
                world.account_id,
            )
        )[0]
        sums[world.slug] = (row["s"], row["r"])
    assert mine[0] == pytest.approx(sums[a.slug][0]) and mine[1] == sums[a.slug][1], (mine, sums)
    assert everyone[1] >= sums[a.slug][1] + sums[b.slug][1], (everyone, sums)
    assert everyone[0] >= sums[a.slug][0] + sums[b.slug][0] - 1e-9, (everyone, sums)


def test_team_pages_show_the_accounts_rows(usage: Usage) -> None:
    a, b = usage.a, usage.b
    with usage.client(a.admin_key) as admin:
        body = ok(admin.get("/team/daily/activity", params={**RANGE, "page_size": 1000}))
    assert_close(totals_of(body), totals_in_db(usage, "LiteLLM_DailyTeamSpend", a.account_id))
    assert body["metadata"]["page"] == 1 and body["metadata"]["has_more"] is False
    assert_nothing_of(b, json.dumps(body))


def test_the_accounts_own_model_has_its_public_name(usage: Usage) -> None:
    a = usage.a
    with usage.client(a.admin_key) as admin:
        body = ok(admin.get("/user/daily/activity/aggregated", params=RANGE))
        top = ok(
            admin.get("/user/daily/activity/aggregated/model_top_keys", params={**RANGE, "model_group": "gpt-own"})
        )
    groups = {name for day in body["results"] for name in day["breakdown"]["model_groups"]}
    assert "gpt-own" in groups and a.account_id not in json.dumps(body)
    assert [k["metadata"]["key_alias"] for k in top["api_keys"]] == [f"{a.slug}-admin-key"]
    assert top["api_keys"][0]["metrics"]["api_requests"] >= 1


# LiteLLM's own handler, called by the super admin with a filter that selects only A's rows, and
# A's admin with the same filter in A's names: the two bodies must be the same.
def _parity_cases(a: AccountWorld) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    cust = {"end_user_ids": f"{a.account_id}/{a.slug}-cust"}
    return [
        ("/user/daily/activity/aggregated", {"user_id": a.admin_user}, {}),
        ("/user/daily/activity/aggregated", {"user_id": a.member_user, "api_key_limit": 1}, {}),
        ("/user/daily/activity/aggregated/keys", {"user_id": a.admin_user}, {}),
        ("/user/daily/activity/aggregated/users", {"user_id": a.member_user}, {}),
        ("/user/daily/activity/aggregated/search", {"user_id": a.admin_user, "search": "admin-key"}, {}),
        ("/user/daily/activity/aggregated/cache_leakage_keys", {"user_id": a.admin_user}, {}),
        ("/user/daily/activity/aggregated/model_top_keys", {"user_id": a.admin_user, "model_group": "gpt-fake"}, {}),
        ("/team/daily/activity/aggregated", {"team_ids": a.team_id}, {}),
        ("/team/daily/activity", {"team_ids": a.team_id, "page_size": 2}, {}),
        ("/team/daily/activity/aggregated/keys", {"team_ids": a.team_id}, {}),
        ("/tag/daily/activity/aggregated", {"api_key": a.admin_token}, {}),
        ("/tag/daily/activity/aggregated", {"tags": f"{a.slug}-tag"}, {}),
        ("/customer/daily/activity/aggregated", cust, {"end_user_ids": f"{a.slug}-cust"}),
        ("/end_user/daily/activity/aggregated/keys", cust, {"end_user_ids": f"{a.slug}-cust"}),
        ("/tag/summary", {"tag_filters": f"{a.slug}-tag"}, {}),
    ]


def test_admin_answers_are_litellms_for_the_accounts_own_rows(usage: Usage) -> None:
    a, b = usage.a, usage.b
    compared = 0
    with usage.root() as root, usage.client(a.admin_key) as admin:
        for path, litellm_params, tenant_params in _parity_cases(a):
            expected = public(a.account_id, ok(root.get(path, params={**RANGE, **litellm_params})))
            found = ok(admin.get(path, params={**RANGE, **litellm_params, **tenant_params}))
            assert found == expected, (
                f"{path} {litellm_params}:\n{json.dumps(found)[:1500]}\n!=\n{json.dumps(expected)[:1500]}"
            )
            assert_nothing_of(b, json.dumps(found))
            compared += 1 if json.dumps(found).count('"api_requests"') or found.get("results") else 0
    assert compared >= 10, "most cases compared non-empty answers"


@pytest.mark.parametrize("export_type", ["daily", "daily_with_keys", "daily_with_models", "daily_with_users"])
def test_export_is_litellms_for_the_accounts_own_team(usage: Usage, export_type: str) -> None:
    a, b = usage.a, usage.b
    params = {**RANGE, "team_ids": a.team_id, "export_type": export_type}
    with usage.root() as root, usage.client(a.admin_key) as admin:
        expected = root.get("/team/daily/activity/export", params=params)
        found = admin.get("/team/daily/activity/export", params=params)
        as_json = ok(admin.get("/team/daily/activity/export", params={**params, "format": "json"}))
    assert found.status_code == 200 and found.text == public(a.account_id, [expected.text])[0]
    assert found.headers["content-disposition"] == expected.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(found.text)))
    assert len(rows) == len(as_json) > 0
    assert_nothing_of(b, found.text)


# --- members: what LiteLLM shows a non-admin -----------------------------------------------------


def test_a_member_sees_only_their_own_user_and_keys(usage: Usage) -> None:
    a = usage.a
    with usage.client(a.member_key) as member:
        own = ok(member.get("/user/daily/activity/aggregated", params={**RANGE, "user_id": a.member_user}))
        unnamed = ok(member.get("/user/daily/activity/aggregated", params=RANGE))
        other_user = member.get("/user/daily/activity/aggregated", params={**RANGE, "user_id": a.admin_user})
        teams = ok(member.get("/team/daily/activity/aggregated", params=RANGE))
        tags = ok(member.get("/tag/daily/activity/aggregated", params=RANGE))
        admin_key = member.get("/tag/daily/activity/aggregated", params={**RANGE, "api_key": a.admin_token})
        customers = member.get("/customer/daily/activity/aggregated", params=RANGE)
        summary = ok(member.get("/tag/summary", params=RANGE))
    mine = totals_in_db(usage, "LiteLLM_DailyUserSpend", a.account_id, "AND user_id = $4", a.member_user)
    assert_close(totals_of(own), mine)
    assert totals_of(unnamed) == totals_of(own)
    assert other_user.status_code == 403
    assert other_user.json() == {"detail": {"error": "Non-admin users can only view their own spend data."}}
    # Not a team admin: the team's figures narrowed to the member's own keys.
    keyed = "AND api_key = $4"
    assert_close(totals_of(teams), totals_in_db(usage, "LiteLLM_DailyTeamSpend", a.account_id, keyed, a.member_token))
    assert_close(totals_of(tags), totals_in_db(usage, "LiteLLM_DailyTagSpend", a.account_id, keyed, a.member_token))
    assert ok(admin_key)["results"] == []
    assert customers.status_code == 403 and "Admin-only endpoint" in customers.json()["detail"]["error"]
    requests = sum(row["total_requests"] for row in summary["results"])
    assert requests == totals_in_db(usage, "LiteLLM_DailyTagSpend", a.account_id, keyed, a.member_token)[1]
    assert f"{a.slug}-tag" not in json.dumps(summary), "the admin's tag is not the member's"


def test_a_team_key_has_no_user_to_report(usage: Usage) -> None:
    with usage.client(usage.team_keys[usage.a.slug]) as team_key:
        refused = team_key.get("/user/daily/activity/aggregated", params=RANGE)
        teams = team_key.get("/team/daily/activity/aggregated", params=RANGE)
    assert refused.status_code == 403 and "Service-account keys" in refused.json()["detail"]["error"]
    assert teams.status_code == 404 and teams.json() == {"detail": {"error": "User= None not found"}}


# --- another account's ids -----------------------------------------------------------------------


def _foreign_cases(b: AccountWorld) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/user/daily/activity/aggregated", {"user_id": b.member_user}),
        ("/user/daily/activity/aggregated/keys", {"api_key": b.member_token}),
        ("/user/daily/activity/aggregated/search", {"search": b.slug}),
        ("/user/daily/activity/aggregated/model_top_keys", {"model_group": f"{b.account_id}/gpt-own"}),
        ("/team/daily/activity/aggregated", {"team_ids": b.team_id}),
        ("/team/daily/activity", {"team_ids": b.team_id}),
        ("/team/daily/activity/export", {"team_ids": b.team_id}),
        ("/tag/daily/activity/aggregated", {"tags": f"{b.slug}-tag"}),
        ("/tag/daily/activity/aggregated", {"api_key": b.admin_token}),
        ("/customer/daily/activity/aggregated", {"end_user_ids": f"{b.slug}-cust"}),
        ("/customer/daily/activity/aggregated", {"end_user_ids": f"{b.account_id}/{b.slug}-cust"}),
        ("/end_user/daily/activity/export", {"end_user_ids": f"{b.slug}-cust", "format": "json"}),
        ("/tag/summary", {"tag_filters": f"{b.slug}-tag"}),
        ("/tag/dau", {"tag_filter": b.slug}),
    ]


def test_another_accounts_ids_give_nothing(usage: Usage) -> None:
    a, b = usage.a, usage.b
    with usage.client(a.admin_key) as admin:
        for path, params in _foreign_cases(b):
            response = admin.get(path, params={**RANGE, **params})
            assert response.status_code in (200, 404), f"{path} {params}: {response.status_code} {response.text}"
            assert_nothing_of(b, response.text)
            if response.status_code == 404:
                continue
            text = response.text
            if path.endswith("/export"):
                assert text in ("[]", "") or text.count("\n") <= 1, f"{path}: {text[:300]}"
                continue
            body = response.json()
            empty = body.get("results", body.get("api_keys", [])) == []
            assert empty, f"{path} {params} answered rows: {text[:500]}"


def test_no_answer_to_the_account_names_anything_of_another(usage: Usage) -> None:
    """Every route, every principal of A, unfiltered: nothing of B, and never B's totals."""
    a, b = usage.a, usage.b
    paths = [
        *(f"{prefix}/daily/activity/aggregated{suffix}" for prefix in TABLES for suffix in ("", "/keys")),
        "/user/daily/activity/aggregated/users",
        "/user/daily/activity/aggregated/cache_leakage_keys",
        "/user/daily/activity/aggregated/search?search=usg",
        "/user/daily/activity/aggregated/model_top_keys?model_group=gpt-fake",
        "/team/daily/activity",
        *(f"{prefix}/daily/activity/export?export_type=daily_with_keys" for prefix in TABLES),
        "/tag/summary",
        "/tag/distinct",
        "/tag/dau",
        "/tag/wau",
        "/tag/mau",
    ]
    # B's totals, except a figure A's own rows also add up to (same prices: they can coincide).
    a_totals = {totals_in_db(usage, table, a.account_id)[0] for table in set(TABLES.values())}
    b_totals = {totals_in_db(usage, table, b.account_id)[0] for table in set(TABLES.values())} - a_totals
    for key in (a.admin_key, a.member_key, a.ui_session_key):
        with usage.client(key) as client:
            for path in paths:
                # httpx replaces a URL's own query with `params`: merge them.
                route, _, query = path.partition("?")
                response = client.get(route, params={**RANGE, **dict(parse_qsl(query))})
                assert response.status_code in (200, 403), f"{path}: {response.status_code} {response.text}"
                assert_nothing_of(b, response.text)
                body = (
                    response.json() if response.headers.get("content-type", "").startswith("application/json") else None
                )
                if response.status_code == 200 and isinstance(body, dict) and "total_spend" in body.get("metadata", {}):
                    assert body["metadata"]["total_spend"] not in b_totals - {0.0}


# --- bad input -------------------------------------------------------------------------------------

BAD_INPUT = [
    ("/user/daily/activity/aggregated", {"start_date": "2026-13-01", "end_date": "2026-01-02"}, 400),
    ("/user/daily/activity/aggregated", {"start_date": "2026-1-1", "end_date": "2026-01-02"}, 400),
    ("/user/daily/activity/aggregated", {"start_date": "2026-01-01"}, 400),
    ("/user/daily/activity/aggregated", {"start_date": "2026-01-05", "end_date": "2026-01-01"}, 400),
    ("/team/daily/activity/aggregated", {"start_date": "2020-01-01", "end_date": "2026-01-01"}, 400),
    ("/user/daily/activity/aggregated", {**RANGE, "api_key_limit": "0"}, 422),
    ("/user/daily/activity/aggregated", {**RANGE, "api_key_limit": "100000"}, 422),
    ("/user/daily/activity/aggregated/keys", {**RANGE, "limit": "1000"}, 422),
    ("/user/daily/activity/aggregated/keys", {**RANGE, "offset": "-1"}, 422),
    ("/user/daily/activity/aggregated/search", RANGE, 422),
    ("/tag/daily/activity/export", {**RANGE, "export_type": "weekly"}, 422),
    ("/tag/daily/activity/export", {**RANGE, "format": "xml"}, 422),
    ("/team/daily/activity", {**RANGE, "page": "0"}, 400),
    ("/tag/summary", {"start_date": "yesterday", "end_date": "2026-01-01"}, 400),
    ("/tag/summary", {}, 422),
]
# Where LiteLLM 1.108.7 itself fails (500) or accepts without a bound, Atrium answers a 4xx.
ATRIUM_ONLY = [
    ("/user/daily/activity/aggregated/keys", {**RANGE, "offset": str(10**30)}, 422),
    ("/team/daily/activity", {**RANGE, "page_size": str(10**12)}, 400),
    ("/team/daily/activity", {**RANGE, "page": str(10**30)}, 400),
    ("/user/daily/activity/aggregated", {**RANGE, "timezone": str(10**9), "include_current_utc_day": "true"}, 422),
    ("/user/daily/activity/aggregated", {**RANGE, "model": "a\x00b"}, 400),
]


@pytest.mark.parametrize(("path", "params", "status"), BAD_INPUT)
def test_bad_input_is_litellms_4xx(usage: Usage, path: str, params: dict[str, str], status: int) -> None:
    with usage.root() as root, usage.client(usage.a.admin_key) as admin:
        litellm = root.get(path, params=params)
        found = admin.get(path, params=params)
    assert found.status_code == status == litellm.status_code, (found.text, litellm.text)
    assert found.json() == litellm.json(), "LiteLLM's error body, word for word"


@pytest.mark.parametrize(("path", "params", "status"), ATRIUM_ONLY)
def test_bad_input_litellm_does_not_bound_is_a_4xx(
    usage: Usage, path: str, params: dict[str, str], status: int
) -> None:
    with usage.client(usage.a.admin_key) as admin:
        found = admin.get(path, params=params)
    assert found.status_code == status, found.text
    assert set(found.json()) == {"detail"}


# --- the gateway card and the Errors tab -------------------------------------------------------------


def _edge_counts(usage: Usage, account_id: str) -> tuple[int, int]:
    rows = asyncio.run(
        _db(
            usage.dsn,
            "SELECT coalesce(sum(requests) FILTER (WHERE status_code BETWEEN 200 AND 299), 0)::bigint AS ok, "
            "coalesce(sum(requests) FILTER (WHERE status_code NOT BETWEEN 200 AND 299), 0)::bigint AS failed "
            'FROM "Atrium_DailyGatewayRequests" WHERE account_id = $1',
            account_id,
        )
    )
    return rows[0]["ok"], rows[0]["failed"]


def test_gateway_pages_count_the_accounts_own_requests(usage: Usage) -> None:
    """LiteLLM counts gateway requests proxy-wide; the account's admin sees its own, as LiteLLM's
    shape: every 2xx chat request of A (one success row in A's request log each), A's 500 among the
    failures, nothing of B; a member gets LiteLLM's 403."""
    a, b = usage.a, usage.b
    logged_ok = asyncio.run(
        _db(
            usage.dsn,
            "SELECT count(*) AS n FROM \"LiteLLM_SpendLogs\" WHERE account_id = $1 AND status = 'success'",
            a.account_id,
        )
    )[0]["n"]
    deadline = time.monotonic() + 30  # each worker adds its counts every 5 s
    while _edge_counts(usage, a.account_id)[0] < logged_ok and time.monotonic() < deadline:
        time.sleep(1)
    succeeded, failed = _edge_counts(usage, a.account_id)
    assert succeeded == logged_ok and failed >= 1, (succeeded, failed, logged_ok)
    with usage.client(a.admin_key) as admin:
        daily = ok(admin.get("/gateway/daily/activity"))
        errors = ok(admin.get("/gateway/errors/activity"))
    assert (daily["total_successful_requests"], daily["total_failed_requests"]) == (succeeded, failed)
    assert any((r["category"], r["route"]) == ("llm", "/chat/completions") for r in daily["by_route"])
    assert sum(d["successful_requests"] for d in daily["by_date"]) == succeeded
    assert 500 in {s["status_code"] for s in daily["by_status_code"]}
    assert (errors["total_successful_requests"], errors["total_failed_requests"]) == (succeeded, failed)
    assert {e["id"] for e in errors["by_model"]} <= {"gpt-fake", "gpt-own"}, errors["by_model"]
    assert set(errors) == {"total_successful_requests", "total_failed_requests", "by_date", "by_status_code",
                           "by_key", "by_team", "by_user", "by_model"}  # fmt: skip
    assert_nothing_of(b, json.dumps(daily) + json.dumps(errors))
    assert _edge_counts(usage, b.account_id)[0] > 0
    with usage.client(a.member_key) as member:
        refused = member.get("/gateway/daily/activity")
    assert refused.status_code == 403 and "detail" in refused.json(), refused.text
