"""Admission and settlement of account budgets, on LiteLLM's callback hooks.

Before the provider call (LiteLLM's pre-call hook, after its own key/team/user reservations),
the request's worst case (LiteLLM's estimate) is reserved in the worker's slice of the account's
budget (``slices``, leased from the ledger); a request whose worst case does not fit what is
left is refused with LiteLLM's own budget error, before it reaches the provider. The reservation
is settled to the cost LiteLLM logs (at stream end for streams, including a client that
disconnects mid-stream, which LiteLLM bills for what the provider produced), released when the
request fails, and released once the HTTP exchange is over if no callback claimed it (LiteLLM's
``BudgetReservationReleaseMiddleware`` rule). Settled costs reach the ledger, and the alerts,
within ``FLUSH_S``.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import urlparse

from starlette.types import ASGIApp, Receive, Scope, Send

from extensions import litellm
from extensions.background import Loop
from extensions.budgets.ledger import Ledger, PeriodState
from extensions.budgets.periods import Period
from extensions.budgets.settings import BudgetSettings, BudgetSettingsStore
from extensions.budgets.slices import FLUSH_S, Slice, Slices

__all__ = ["BudgetAdmission", "ReservationScope", "SettledHook"]

log = logging.getLogger("atrium.budgets")

RENEW_EVERY_S: Final = 60.0
MAX_HOLD_S: Final = 3600.0  # past this a reservation is released (the request is stuck; it is charged if it ends)
UNCLAIMED_GRACE_S: Final = 30.0  # LiteLLM logs success after the response; wait before releasing

# The call ids whose reservations the current HTTP exchange made (set by ReservationScope).
_EXCHANGE_CALLS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("atrium_budget_calls", default=None)


class SettledHook(Protocol):
    async def settled(
        self,
        *,
        account_id: str,
        period_start: datetime,
        period_end: datetime,
        spend: float,
        max_budget: float,
        thresholds: tuple[float, ...],
    ) -> None: ...


def _route(data: Mapping[str, Any]) -> str:
    request = data.get("proxy_server_request")
    url = request.get("url") if isinstance(request, Mapping) else None
    return urlparse(str(url)).path if url else "/chat/completions"


def _money(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"


class _Held:
    __slots__ = ("amount", "settings", "since", "slice")

    def __init__(self, held_in: Slice, amount: float, settings: BudgetSettings) -> None:
        self.slice = held_in
        self.amount = amount
        self.settings = settings
        self.since = time.monotonic()


class BudgetAdmission:
    """One worker's side of the account ledger: its slices, what it reserved and has not settled yet."""

    def __init__(self, store: BudgetSettingsStore, ledger: Ledger, hook: SettledHook | None = None) -> None:
        self.store = store
        self.ledger = ledger
        self.slices = Slices(ledger)
        self.hook = hook
        self._held: dict[str, _Held] = {}
        self._ended: collections.deque[tuple[float, list[str]]] = collections.deque()
        self._loop = Loop("atrium-budget-slices", self._tend, FLUSH_S, log)
        self._renewed = time.monotonic()

    async def admit(self, account_id: str, data: dict[str, Any]) -> None:
        """Reserve the request's worst case for ``account_id``, or raise LiteLLM's budget error."""
        settings = await self.store.effective(account_id)
        if settings is None or settings.max_budget is None:
            return
        call_id = data.get("litellm_call_id")
        if not isinstance(call_id, str):
            return
        estimate = await litellm.worst_case_cost(data, _route(data))
        # An unpriced request reserves nothing but is still refused once the budget is spent.
        amount = max(estimate or 0.0, 0.0)
        period = settings.period()
        limit = settings.hard_limit if settings.enforced else None
        held = await self.slices.take(account_id, period, limit, amount)
        if isinstance(held, PeriodState):
            raise self._refusal(settings, amount, held)
        self._held[call_id] = _Held(held, amount, settings)
        calls = _EXCHANGE_CALLS.get()
        if calls is not None:
            calls.append(call_id)

    def _refusal(self, settings: BudgetSettings, amount: float, state: PeriodState) -> Exception:
        period = settings.period()
        current = state.spend + state.reserved
        max_budget = settings.max_budget or 0.0
        resets = f" Resets at {period.end.isoformat()}." if period.resets else " The budget does not reset."
        message = (
            "Budget has been exceeded! "
            f"Account={settings.account_id} "
            f"Current cost: {_money(current)}, Estimated request cost: {_money(amount)}, "
            f"Max budget: {_money(max_budget)}"
        )
        if settings.hard_limit != max_budget:
            message += f" (hard limit with overage: {_money(settings.hard_limit or 0.0)})"
        message += "." + resets
        return litellm.budget_exceeded(
            message, current_cost=current, max_budget=max_budget, entity_id=settings.account_id
        )

    async def succeeded(self, kwargs: Mapping[str, Any], account_id: str | None = None) -> None:
        """Settle the call's reservation to the cost LiteLLM logged for it. A call that reserved
        nothing (a route without LiteLLM's pre-call hook, a budget set meanwhile) is still charged
        to ``account_id``'s budget, so the ledger agrees with the spend logs."""
        held = self._held.pop(str(kwargs.get("litellm_call_id")), None)
        cost = litellm.response_cost(kwargs) or 0.0
        if held is None:
            if account_id is None or cost <= 0:
                return
            own = await self.store.effective(account_id)
            if own is None or own.max_budget is None:
                return
            spend = await self.ledger.charge(account_id, own.period(), cost)
            await self._alert(own, own.period(), spend)
            return
        if held.slice.closed:  # given back meanwhile (the worker is stopping): charged on its own
            spend = await self.ledger.charge(held.slice.account_id, held.slice.period, cost)
            await self._alert(held.settings, held.slice.period, spend)
            return
        held.slice.settle(held.amount, cost)  # reaches the ledger (and the alerts) with the next flush

    async def _alert(self, settings: BudgetSettings, period: Period, spend: float | None) -> None:
        if spend is not None and self.hook is not None and settings.max_budget:
            try:
                await self.hook.settled(
                    account_id=settings.account_id,
                    period_start=period.start,
                    period_end=period.end,
                    spend=spend,
                    max_budget=settings.max_budget,
                    thresholds=settings.thresholds,
                )
            except Exception:
                log.exception("budget alert check failed", extra={"account_id": settings.account_id})

    async def failed(self, data: Mapping[str, Any]) -> None:
        """Release the call's reservation: the request failed, nothing was produced to charge."""
        held = self._held.pop(str(data.get("litellm_call_id")), None)
        if held is not None:
            held.slice.settle(held.amount, 0.0)

    def exchange_ended(self, call_ids: list[str]) -> None:
        """After an HTTP exchange: what no success or failure callback claims within the grace time
        is released by the background loop (one queue, not a sleeping task per request)."""
        self._ended.append((time.monotonic() + UNCLAIMED_GRACE_S, call_ids))

    async def release_unclaimed(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        while self._ended and self._ended[0][0] <= now:
            for call_id in self._ended.popleft()[1]:
                held = self._held.pop(call_id, None)
                if held is not None:
                    held.slice.settle(held.amount, 0.0)

    # -- leases ---------------------------------------------------------------------------
    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        await self._alerts(await self.slices.close_all())

    async def tend(self, now: float | None = None) -> None:
        """Release what no callback claimed, flush what was settled, give back idle slices."""
        await self.release_unclaimed(now)
        await self._alerts(await self.slices.tend(now))

    async def _alerts(self, touched: list[tuple[Slice, float]]) -> None:
        for held, spend in touched:
            settings = await self.store.effective(held.account_id)  # the store's cache: no query
            if settings is not None:
                await self._alert(settings, held.period, spend)

    async def _tend(self) -> None:
        """Every ``FLUSH_S``: ``tend``; every ``RENEW_EVERY_S``: renew this worker's leases and sweep
        expired ones (anyone's)."""
        await self.tend()
        if time.monotonic() - self._renewed < RENEW_EVERY_S:
            return
        self._renewed = now = time.monotonic()
        for call_id, held in list(self._held.items()):
            if now - held.since > MAX_HOLD_S:
                self._held.pop(call_id, None)
                held.slice.settle(held.amount, 0.0)
        await self.ledger.renew(self.slices.held())
        await self.ledger.sweep()


class ReservationScope:
    """ASGI middleware: one list of reserved call ids per HTTP exchange, handed on when it ends."""

    def __init__(self, app: ASGIApp, admission: Callable[[], BudgetAdmission | None]) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        calls: list[str] = []
        token = _EXCHANGE_CALLS.set(calls)
        try:
            await self.app(scope, receive, send)
        finally:
            _EXCHANGE_CALLS.reset(token)
            admission = self.admission()
            if calls and admission is not None:
                admission.exchange_ended(calls)
