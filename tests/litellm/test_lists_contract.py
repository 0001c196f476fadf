"""Contract of the LiteLLM internals the account-scoped lists use (``_lists``, ``_users``, ``_catalog``).

No proxy: LiteLLM's own code is run in-process on rows made up here, and what it hands back is
checked against what the replacements rely on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import litellm as litellm_module
import pytest
from starlette.requests import Request

from extensions import litellm


def _request(path: str, query: str = "") -> Request:
    return Request({"type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": []})


class _Recorder:
    """An asyncpg-like ``fetch`` that records every statement and answers budget rows."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> Sequence[Mapping[str, Any]]:
        self.calls.append((sql, args))
        if "COUNT(*)" in sql:
            return [{"count": 1}]
        row = {"budget_id": "b1", "max_budget": 2.5, "soft_budget": None, "tpm_limit": 5, "rpm_limit": None}
        now = "2026-01-01T00:00:00"
        return [
            {
                **row,
                "tpd_limit": None,
                "budget_duration": "7d",
                "budget_reset_at": None,
                "created_at": now,
                "updated_at": now,
            }
        ]


async def test_budget_list_puts_the_scope_first_and_binds_every_caller_value() -> None:
    fetch = _Recorder()
    query = "q=x%27%3B+DROP&sort=-max_budget&filter%5Bmax_budget%5D%5Bgte%5D=1&page_size=10"
    body = await litellm.list_budgets(
        _request("/management/v1/budgets", query),
        denied=None,
        scope_sql="account_id IS NOT DISTINCT FROM $1",
        scope_args=("acct",),
        fetch=fetch.fetch,
    )
    assert isinstance(body, dict) and set(body) == {"data", "meta", "links"}
    assert set(body["links"]) >= {"self", "first", "last"} and body["meta"]["total_count"] == 1
    assert body["data"][0]["budget_id"] == "b1" and body["data"][0]["tpm_limit"] == 5
    for sql, args in fetch.calls:
        assert " WHERE account_id IS NOT DISTINCT FROM $1 AND " in sql and args[0] == "acct"
        assert "DROP" not in sql and any("DROP" in str(a) for a in args)


@pytest.mark.parametrize(
    ("query", "denied", "status"),
    [("", "members may not", 403), ("bogus=1", None, 400), ("sort=password", None, 400), ("page=x", None, 400)],
)
async def test_budget_list_refusals_are_litellms_problems(query: str, denied: str | None, status: int) -> None:
    fetch = _Recorder()
    answer = await litellm.list_budgets(
        _request("/management/v1/budgets", query), denied=denied, scope_sql="TRUE", scope_args=(), fetch=fetch.fetch
    )
    assert isinstance(answer, litellm.Problem) and answer.status == status
    assert set(answer.body) >= {"type", "title", "status", "detail"} and answer.body["type"].startswith("urn:litellm")
    assert fetch.calls == []  # refused before any read


def test_facet_page_and_problems() -> None:
    page = litellm.facet_page(
        _request("/management/v1/spend_logs/users", "page=1"), ["a", "b", "c"], page=1, page_size=2
    )
    assert page["data"] == ["a", "b"] and page["meta"] == {"page": 1, "page_size": 2, "has_more": True}
    assert set(page["links"]) == {"self", "prev", "next"} and "page=2" in page["links"]["next"]
    unknown = litellm.unknown_query_problem(["x"], ["q", "page"])
    assert unknown.status == 400 and unknown.body["allowed"] == ["page", "q"]
    invalid = litellm.query_problem(
        [{"type": "missing", "loc": ("query", "page"), "msg": "Field required", "input": "s"}]
    )
    assert invalid.status == 400 and "s" not in str(invalid.body.get("allowed"))


def test_date_range_error() -> None:
    assert litellm.date_range_error(None, None) == "Please provide start_date and end_date"
    assert litellm.date_range_error("2026-01-01", "2026-01-02") is None
    assert litellm.date_range_error("2026-1-1", "2026-01-02")


def test_admin_user_info_is_litellms_processing() -> None:
    team = {"team_id": "t1", "team_alias": "Zeta", "models": [], "members_with_roles": []}
    other = {**team, "team_id": "t2", "team_alias": "Alpha"}
    key = {"token": "h1", "team_id": "t1", "models": None, "key_alias": "k"}
    ui = {"token": "h2", "team_id": litellm.UI_SESSION_TEAM, "models": []}
    body = litellm.admin_user_info(
        user_id="u1", user_info={"user_id": "u1", "password": "secret"}, team_rows=[team, other], key_rows=[key, ui]
    )
    assert set(body) == {"user_id", "user_info", "keys", "teams"}
    assert body["user_info"] == {"user_id": "u1"}
    assert [t["team_id"] for t in body["teams"]] == ["t2", "t1"]  # sorted by alias, as LiteLLM does
    assert [(k["token"], k["team_alias"]) for k in body["keys"]] == [("h1", "Zeta")]


def test_catalogue_excludes_runtime_registrations() -> None:
    name = "atrium-contract-runtime-model"
    litellm_module.register_model({name: {"input_cost_per_token": 1.0, "litellm_provider": "openai", "mode": "chat"}})
    try:
        assert name in litellm_module.model_cost and litellm.runtime_cost_entry(name) is not None
        catalogue = litellm.catalog_cost_map()
        assert name not in catalogue and len(catalogue) > 1000
        assert set(catalogue) <= set(litellm_module.model_cost)
    finally:
        litellm_module.model_cost.pop(name, None)
