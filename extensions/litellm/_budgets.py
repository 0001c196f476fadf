"""LiteLLM's request cost estimate and its budget refusal, for Atrium's account budgets.

LiteLLM reserves a request's worst-case cost against key, team, user and other budgets at
admission (``litellm.proxy.spend_tracking.budget_reservation``). Its counters cannot carry an
Atrium account, so the account ledger is Atrium's (``extensions/budgets/``), but the worst case is
LiteLLM's own estimate (input tokens counted, output bounded by ``max_tokens`` or the model's max
output, priced from the deployment or the cost map), and a refusal is LiteLLM's own
``BudgetExceededError``, which the proxy answers as it answers a key over budget.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final

from extensions.litellm._base import Internal
from extensions.litellm._router import llm_router

__all__ = ["INTERNALS", "budget_exceeded", "response_cost", "worst_case_cost"]

_RESERVATION: Final = "litellm.proxy.spend_tracking.budget_reservation"

INTERNALS: tuple[Internal, ...] = (
    Internal(_RESERVATION, "count_request_input_tokens", ("request_body", "route", "llm_router", "raw_body")),
    Internal(_RESERVATION, "estimate_request_max_cost", ("request_body", "route", "llm_router", "input_token_counts")),
    Internal(
        "litellm",
        "BudgetExceededError",
        ("current_cost", "max_budget", "message", "llm_provider", "entity_type", "entity_id"),
    ),
    # How the proxy answers a budget refusal raised in auth: status and ``type: budget_exceeded``.
    Internal("litellm.proxy.auth.auth_exception_handler", "_as_proxy_exception", ("e",)),
)


async def worst_case_cost(request_body: dict[str, Any], route: str) -> float | None:
    """The most this request can cost, or None when LiteLLM cannot price it (unknown model)."""
    module = importlib.import_module(_RESERVATION)
    router = llm_router()
    counts = await module.count_request_input_tokens(
        request_body=request_body, route=route, llm_router=router, raw_body=None
    )
    cost = module.estimate_request_max_cost(
        request_body=request_body, route=route, llm_router=router, input_token_counts=counts
    )
    return None if cost is None else float(cost)


def budget_exceeded(message: str, *, current_cost: float, max_budget: float, entity_id: str) -> Exception:
    """LiteLLM's budget refusal as its auth answers it (status ``litellm.budget_exceeded_status_code``,
    ``type: budget_exceeded``), so clients that handle a key over budget handle an account over budget."""
    error_class = importlib.import_module("litellm").BudgetExceededError
    exceeded = error_class(
        current_cost=current_cost, max_budget=max_budget, message=message, entity_type=None, entity_id=entity_id
    )
    convert = importlib.import_module("litellm.proxy.auth.auth_exception_handler")._as_proxy_exception
    error: Exception = convert(exceeded)
    return error


def response_cost(kwargs: Mapping[str, Any]) -> float | None:
    """The cost LiteLLM logged for a call (the figure its spend log and key/team rows get)."""
    logged = kwargs.get("standard_logging_object")
    cost = logged.get("response_cost") if isinstance(logged, Mapping) else None
    if cost is None:
        cost = kwargs.get("response_cost")
    try:
        return None if cost is None else float(cost)
    except (TypeError, ValueError):
        return None
