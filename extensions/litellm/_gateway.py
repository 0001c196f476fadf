"""Which requests LiteLLM counts as gateway requests, and what it counts as a success.

LiteLLM's ``BillableRequestMetricsMiddleware`` counts what the proxy answered on LLM, MCP and A2A
routes into ``LiteLLM_DailyGatewayRequests``, a table without an account. Atrium counts the same
requests per account (``extensions/observability/gateway_counts.py``) with LiteLLM's own
classification, so the two agree on what a gateway request is and on the route names the UI shows.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Final

from extensions.litellm._base import Internal

__all__ = ["INTERNALS", "billable_request", "gateway_success"]

_MIDDLEWARE: Final = "litellm.proxy.middleware.billable_request_metrics_middleware"

INTERNALS: tuple[Internal, ...] = (
    Internal(_MIDDLEWARE, "classify_billable_request", ("path", "method")),
    Internal(_MIDDLEWARE, "BillableCategory"),
    # Its success rule (200 <= status < 300) is spelled in gateway_success(); the accumulator is pinned.
    Internal("litellm.proxy.db.gateway_request_tracking", "GatewayRequestAccumulator.record"),
)


@functools.cache
def _classify() -> Any:
    # Resolved once, on the first answer (the proxy has imported the module by then).
    return importlib.import_module(_MIDDLEWARE).classify_billable_request


def billable_request(path: str, method: str) -> tuple[str, str] | None:
    """(category, normalised route) of a request LiteLLM counts, or None."""
    found = _classify()(path, method)
    if found is None:
        return None
    category, route = found
    return str(category.value), str(route)


def gateway_success(status_code: int) -> bool:
    """LiteLLM's rule for a successful gateway request (``GatewayRequestAccumulator.record``)."""
    return 200 <= status_code < 300
