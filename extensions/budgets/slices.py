"""A worker's slices of its accounts' budgets: leased from the ledger, spent without a round trip.

Reserving each request's worst case in PostgreSQL cost every request two committed UPDATEs of its
account's one period row, on which all of the account's requests queued (docs/benchmarks.md). A
worker instead leases a slice of what the period has left (``Ledger.lease``), admits requests
against it in memory and flushes what they cost every ``FLUSH_S``. The guarantee is the ledger's:
it never grants past the limit and a worker admits only within what it holds, so spend can pass
the limit only by what a request costs beyond its worst case, as before. Near the limit slices
shrink (a share of what is left, never less than the request at hand), and a slice unused for
``IDLE_S`` goes back, so budget does not sit in one worker while another needs it: a refusal
while another worker holds an unused slice lasts at most that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Final

from extensions.budgets.ledger import Ledger, PeriodState
from extensions.budgets.periods import Period

__all__ = ["FLUSH_S", "IDLE_S", "Slice", "Slices"]

FLUSH_S: Final = 0.5
IDLE_S: Final = 1.0
SLICE_REQUESTS: Final = 32  # a slice is worth this many worst cases of the request that asked for it
SLICE_SHARE: Final = 0.125  # ... and at most this share of what the period has left
MIN_SLICE_USD: Final = 0.01  # what an unpriced request (worst case 0) leases
_EPSILON: Final = 1e-12  # float residues of many additions are not budget


class Slice:
    """One worker's hold on one account's period: what the ledger holds for it and how it is used."""

    __slots__ = (
        "account_id",
        "admitted",
        "amount",
        "calls",
        "closed",
        "cost",
        "id",
        "limit",
        "lock",
        "open",
        "period",
        "requests",
        "used",
    )

    def __init__(self, account_id: str, period: Period, limit: float | None) -> None:
        self.id = uuid.uuid4().hex
        self.account_id = account_id
        self.period = period
        self.limit = limit  # the hard limit it was leased under (None: not enforced)
        self.amount = 0.0  # held in the ledger for this slice
        self.admitted = 0.0  # worst cases of the calls admitted and not yet settled
        self.calls = 0
        self.cost = 0.0  # settled since the last flush
        self.requests = 0
        self.used = time.monotonic()
        self.open = True  # takes new calls
        self.closed = False  # given back to the ledger: settle elsewhere
        self.lock = asyncio.Lock()

    @property
    def free(self) -> float:
        return self.amount - self.admitted - self.cost

    def take(self, amount: float) -> bool:
        if not self.open or self.amount <= 0 or self.free + _EPSILON < amount:
            return False
        self.admit(amount)
        return True

    def admit(self, amount: float) -> None:
        self.admitted += amount
        self.calls += 1
        self.used = time.monotonic()

    def settle(self, amount: float, cost: float) -> None:
        self.calls -= 1
        self.admitted = self.admitted - amount if self.calls else 0.0
        self.cost += cost
        self.requests += 1 if cost > 0 else 0
        self.used = time.monotonic()

    def idle(self, now: float) -> bool:
        return self.calls == 0 and now - self.used >= IDLE_S


class Slices:
    """The slices one worker holds, by account and period."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._current: dict[tuple[str, datetime], Slice] = {}
        self._draining: list[Slice] = []  # no new calls; given back once their calls are settled

    def _slice(self, account_id: str, period: Period, limit: float | None) -> Slice:
        key = (account_id, period.start)
        held = self._current.get(key)
        if held is not None and held.limit == limit:
            return held
        if held is not None:  # the limit changed: what was leased under the old one drains
            self._drain(key)
        held = self._current[key] = Slice(account_id, period, limit)
        return held

    def _drain(self, key: tuple[str, datetime]) -> None:
        held = self._current.pop(key)
        held.open = False
        self._draining.append(held)

    async def take(self, account_id: str, period: Period, limit: float | None, amount: float) -> Slice | PeriodState:
        """Admit a call whose worst case is ``amount``: the slice it is held in, or the period's state
        when the ledger cannot grant it (the call is refused)."""
        while True:
            held = self._slice(account_id, period, limit)
            if held.take(amount):
                return held
            async with held.lock:  # one lease at a time per slice; the others find it topped up
                if not held.open:
                    continue
                if held.take(amount):
                    return held
                need = max(amount - held.free, 0.0)
                lease = await self.ledger.lease(
                    held.id,
                    account_id,
                    period,
                    need=need,
                    want=max(need, amount * SLICE_REQUESTS, MIN_SLICE_USD),
                    limit=limit,
                    share=SLICE_SHARE,
                )
                if lease.granted is None:
                    return lease.state
                held.amount += lease.granted
                held.admit(amount)  # the ledger found room for the need: admitted even if granted is 0
                return held

    async def tend(self, now: float | None = None) -> list[tuple[Slice, float]]:
        """Flush what was settled and give back idle and draining slices; each slice touched with
        its period's spend after."""
        now = time.monotonic() if now is None else now
        for key, held in list(self._current.items()):
            if held.idle(now):
                self._drain(key)
        touched: list[tuple[Slice, float]] = []
        for held in list(self._draining):
            if held.calls == 0:
                self._draining.remove(held)
                touched.append((held, await self._close(held)))
        for held in [*self._current.values(), *self._draining]:
            if held.cost or held.requests:
                touched.append((held, await self._flush(held)))
        return touched

    async def close_all(self) -> list[tuple[Slice, float]]:
        """Give every slice back (the worker stops); calls still running are charged when they end."""
        for key in list(self._current):
            self._drain(key)
        touched = []
        while self._draining:
            held = self._draining.pop()
            touched.append((held, await self._close(held)))
        return touched

    def held(self) -> list[str]:
        """The ids of the slices whose leases this worker renews."""
        return [s.id for s in [*self._current.values(), *self._draining] if s.amount > 0]

    async def _flush(self, held: Slice) -> float:
        async with held.lock, self._settled(held) as (cost, requests):
            give_back = min(held.amount, cost)
            spend, still_held = await self.ledger.flush(
                held.id, held.account_id, held.period, give_back=give_back, cost=cost, requests=requests
            )
            # Swept (the worker stalled past its lease): the ledger holds nothing for it any more.
            held.amount = held.amount - give_back if still_held else 0.0
            return spend

    async def _close(self, held: Slice) -> float:
        async with held.lock:
            held.open, held.closed = False, True
            try:
                async with self._settled(held) as (cost, requests):
                    spend = await self.ledger.close(held.id, held.account_id, held.period, cost=cost, requests=requests)
            except BaseException:
                held.closed = False
                self._draining.append(held)
                raise
            held.amount = 0.0
            return spend

    @contextlib.asynccontextmanager
    async def _settled(self, held: Slice) -> AsyncIterator[tuple[float, int]]:
        """The slice's settled cost and calls, taken out for a write to the ledger; put back (with
        whatever settled meanwhile) when the write fails, for the next flush."""
        cost, requests = held.cost, held.requests
        held.cost, held.requests = 0.0, 0
        try:
            yield cost, requests
        except BaseException:
            held.cost, held.requests = held.cost + cost, held.requests + requests
            raise
