"""Gateway requests per account: LiteLLM's edge count, with the account the request ran under.

LiteLLM counts what the proxy answered on LLM, MCP and A2A routes into
``LiteLLM_DailyGatewayRequests``, which has no account, so its ``/gateway/*/activity`` pages are
proxy-wide. Atrium counts the same requests (LiteLLM's classification, ``litellm.billable_request``)
per account, day, route and HTTP status into ``Atrium_DailyGatewayRequests``, Atrium's refusals
included. Each worker keeps its counts in memory and adds them to the table every few seconds with
an additive upsert, so any number of workers and replicas write without coordinating; a worker
that dies loses at most its last interval (as LiteLLM's own buffer does).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from starlette.types import Scope

from extensions import litellm
from extensions.background import Loop
from extensions.tenancy.request.context import Principal

__all__ = ["FLUSH_INTERVAL_S", "GatewayCounts"]

log = logging.getLogger("atrium.gateway_counts")

FLUSH_INTERVAL_S: Final = 5.0
_UPSERT: Final = """
INSERT INTO "Atrium_DailyGatewayRequests" (account_id, date, category, route, status_code, requests, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (account_id, date, category, route, status_code)
DO UPDATE SET requests = "Atrium_DailyGatewayRequests".requests + EXCLUDED.requests, updated_at = now()
"""

_Key = tuple[str, str, str, str, int]  # account, date, category, route, status


class GatewayCounts:
    """One worker's counts since its last flush."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._pending: Counter[_Key] = Counter()
        self._loop: Loop | None = None

    def answered(self, principal: Principal, scope: Scope, status_code: int) -> None:
        """The middleware's report of one answer (``AccountMiddleware(answered=...)``)."""
        if principal.account_id is None:
            return
        found = litellm.billable_request(scope.get("path", ""), scope.get("method", "POST"))
        if found is None:
            return
        category, route = found
        date = self._clock().strftime("%Y-%m-%d")
        self._pending[(principal.account_id, date, category, route, status_code)] += 1

    async def flush(self, pool: Any) -> None:
        """Add the counts so far to the table (they are kept for the next try if the write fails)."""
        taken, self._pending = self._pending, Counter()
        if not taken:
            return
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.executemany(_UPSERT, [(*key, n) for key, n in sorted(taken.items())])
        except Exception:
            self._pending.update(taken)
            raise

    def start(self, pool: Any, interval: float = FLUSH_INTERVAL_S) -> None:
        async def flush() -> None:
            await self.flush(pool)  # on failure the counts stay pending for the next interval

        self._loop = Loop("atrium-gateway-counts", flush, interval, log)
        self._loop.start()

    async def stop(self, pool: Any) -> None:
        if self._loop is not None:
            await self._loop.stop()
            self._loop = None
        with contextlib.suppress(Exception):
            await self.flush(pool)
