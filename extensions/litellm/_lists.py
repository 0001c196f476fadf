"""LiteLLM's list contract, for Atrium's account-scoped copies of its ``/management/v1`` lists.

LiteLLM 1.108.7 serves its newer lists through one framework (``litellm.proxy.list_api``): the query
parameters (``page``, ``page_size``, ``sort``, ``q``, ``filter[field][op]``), the envelope
(``{data, meta, links}``) and RFC 9457 problems for every refusal. The admin UI parses exactly that,
so the replacements plan and answer with LiteLLM's own code and only run the SQL themselves: LiteLLM's
renderer numbers every caller-supplied value as a bind placeholder after Atrium's account predicate.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from extensions.litellm._base import Internal

__all__ = [
    "INTERNALS",
    "PROBLEM_MEDIA_TYPE",
    "Fetch",
    "Problem",
    "date_range_error",
    "facet_page",
    "list_budgets",
    "public_errors",
    "query_problem",
    "unknown_query_problem",
]

_FRAMEWORK: Final = "litellm.proxy.list_api.list_framework"
_COMMON: Final = "litellm.proxy.list_api.common"
_BUDGETS: Final = "litellm.proxy.management_endpoints.management_v1.budgets"
_TYPES: Final = "litellm.types.proxy.management_endpoints.management_v1"
_TEAMS: Final = "litellm.proxy.management_endpoints.team_endpoints"

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"

INTERNALS: tuple[Internal, ...] = (
    Internal(_FRAMEWORK, "handle_list", ("spec", "executor", "request", "caller")),
    Internal(_FRAMEWORK, "where_sql", ("where", "first_index")),
    Internal(_FRAMEWORK, "order_by_sql", ("order",)),
    Internal(_FRAMEWORK, "ScopeAll"),
    Internal(_FRAMEWORK, "ScopeDenied", ("reason",)),
    Internal(_BUDGETS, "BUDGETS_LIST_SPEC"),
    Internal(_BUDGETS, "BudgetListItem"),
    Internal(_BUDGETS, "BUDGET_TABLE", value='"LiteLLM_BudgetTable"'),
    Internal(_BUDGETS, "SELECTED_COLUMNS"),
    Internal(_COMMON, "ManagementProblem", ("problem",)),
    Internal(_COMMON, "PROBLEM_CONTENT_TYPE", value=PROBLEM_MEDIA_TYPE),
    Internal(_COMMON, "build_page_links", ("request", "page", "has_more")),
    Internal(_COMMON, "request_validation_problem", ("raw_errors",)),
    Internal(_COMMON, "unknown_query_param_problem", ("unknown", "allowed")),
    Internal(_TYPES, "FacetListResponse"),
    Internal(_TYPES, "PageMeta"),
    # The date check of LiteLLM's team usage routes (``/team/spend/by_user``).
    Internal(_TEAMS, "aggregated_date_range_error", ("start_date", "end_date")),
)

# Runs one statement with positional binds and returns its rows (an asyncpg pool's ``fetch``).
Fetch = Callable[..., Awaitable[Sequence[Mapping[str, Any]]]]


@dataclass(frozen=True)
class Problem:
    """A refusal in LiteLLM's RFC 9457 form: the status and the ``application/problem+json`` body."""

    status: int
    body: dict[str, Any]


def _problem(detail: Any) -> Problem:
    return Problem(int(detail.status), detail.model_dump(exclude_none=True))


def _dump(model: Any) -> dict[str, Any]:
    # What FastAPI sends for LiteLLM's response_model: JSON types, field aliases ("self").
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return dumped


@dataclass(frozen=True)
class _BudgetRows:
    """LiteLLM's ``PrismaBudgetListExecutor`` with the caller's scope ANDed in front of every query."""

    scope_sql: str
    scope_args: tuple[Any, ...]
    fetch: Fetch

    def _where(self, where: Any) -> tuple[str, tuple[Any, ...]]:
        framework = importlib.import_module(_FRAMEWORK)
        clauses, params = framework.where_sql(where, len(self.scope_args) + 1)
        return self.scope_sql + (f" AND {clauses}" if clauses else ""), (*self.scope_args, *params)

    async def count(self, where: Any) -> int:
        budgets = importlib.import_module(_BUDGETS)
        sql, params = self._where(where)
        rows = await self.fetch(f"SELECT COUNT(*) AS count FROM {budgets.BUDGET_TABLE} WHERE {sql}", *params)
        return int(rows[0]["count"]) if rows else 0

    async def find_many(self, plan: Any) -> list[Any]:
        budgets = importlib.import_module(_BUDGETS)
        framework = importlib.import_module(_FRAMEWORK)
        sql, params = self._where(plan.where)
        rows = await self.fetch(
            f"SELECT {budgets.SELECTED_COLUMNS} FROM {budgets.BUDGET_TABLE} WHERE {sql}"
            f" ORDER BY {framework.order_by_sql(plan.order)}"
            f" LIMIT ${len(params) + 1} OFFSET ${len(params) + 2}",
            *params,
            plan.take,
            plan.skip,
        )
        return [budgets.BudgetListItem.model_validate(dict(row)) for row in rows]


async def list_budgets(
    request: Any, *, denied: str | None, scope_sql: str, scope_args: Sequence[Any], fetch: Fetch
) -> dict[str, Any] | Problem:
    """LiteLLM's ``GET /management/v1/budgets`` answer over the rows ``scope_sql`` admits.

    ``scope_sql`` uses the binds ``$1..$n`` (``scope_args``); ``denied`` is the reason a caller who
    may not list budgets is refused (LiteLLM's 403 problem), checked before any parameter.
    """
    framework = importlib.import_module(_FRAMEWORK)
    budgets = importlib.import_module(_BUDGETS)
    common = importlib.import_module(_COMMON)
    scope = framework.ScopeDenied(reason=denied) if denied else framework.ScopeAll()
    spec = dataclasses.replace(budgets.BUDGETS_LIST_SPEC, scope=lambda _caller: scope)
    executor = _BudgetRows(scope_sql, tuple(scope_args), fetch)
    try:
        response = await framework.handle_list(spec=spec, executor=executor, request=request, caller=None)
    except common.ManagementProblem as exc:
        return _problem(exc.problem)
    return _dump(response)


def facet_page(request: Any, values: Sequence[str], *, page: int, page_size: int) -> dict[str, Any]:
    """LiteLLM's ``FacetListResponse`` for one page of ``values`` (read with one row beyond the page)."""
    types = importlib.import_module(_TYPES)
    common = importlib.import_module(_COMMON)
    has_more = len(values) > page_size
    return _dump(
        types.FacetListResponse(
            data=list(values[:page_size]),
            meta=types.PageMeta(page=page, page_size=page_size, has_more=has_more),
            links=common.build_page_links(request=request, page=page, has_more=has_more),
        )
    )


def query_problem(errors: Sequence[Mapping[str, Any]]) -> Problem:
    """LiteLLM's answer to a ``/management/v1`` request failing validation (400 for a query parameter)."""
    return _problem(importlib.import_module(_COMMON).request_validation_problem(public_errors(errors)))


def public_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors as LiteLLM shows them (``public_validation_errors``): type, loc, msg; no input."""
    return [{"type": e.get("type"), "loc": e.get("loc"), "msg": e.get("msg")} for e in errors]


def unknown_query_problem(unknown: Sequence[str], allowed: Sequence[str]) -> Problem:
    return _problem(
        importlib.import_module(_COMMON).unknown_query_param_problem(unknown=tuple(unknown), allowed=tuple(allowed))
    )


def date_range_error(start_date: str | None, end_date: str | None) -> str | None:
    """Why LiteLLM refuses this ``start_date``/``end_date`` pair on its aggregated team routes; None: valid."""
    error: str | None = importlib.import_module(_TEAMS).aggregated_date_range_error(start_date, end_date)
    return error
