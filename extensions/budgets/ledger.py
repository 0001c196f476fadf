"""The account budget ledger in PostgreSQL: slices of the budget leased to workers, costs settled.

PostgreSQL is the source of truth and the point of atomicity: one row per account and period
(``Atrium_BudgetPeriod``: settled ``spend`` and ``reserved``, what workers hold) and one row per
slice a worker holds (``Atrium_BudgetReservation``, a lease). A lease is a single locked
read-and-update of the period row, so any number of workers and replicas can never hold past
the limit together; a worker admits requests only within what it holds (``slices``) and moves
what they cost from ``reserved`` to ``spend`` in one statement per flush. A worker that dies
leaves leases that expire; any worker's sweep releases them and brings the period's spend up to
LiteLLM's spend logs, so costs the dead worker had not flushed are not lost. Nothing lives only
in a cache, so a restart or a Redis outage loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from extensions.budgets.periods import Period, db_time

__all__ = ["LEASE_S", "Lease", "Ledger", "PeriodState"]

LEASE_S: Final = 300.0  # renewed every minute while the worker lives

# A period opens with what the account already spent in it (LiteLLM's spend logs), so a budget
# set mid-period, or a ledger rebuilt, starts from PostgreSQL's figures rather than from zero.
_OPEN_PERIOD: Final = """
INSERT INTO "Atrium_BudgetPeriod" (account_id, period_start, period_end, spend)
SELECT $1, $2, $3, coalesce(sum(spend), 0) FROM "LiteLLM_SpendLogs"
WHERE account_id = $1 AND "startTime" >= $2 AND "startTime" < $3
ON CONFLICT (account_id, period_start) DO NOTHING
"""
_LOCK_PERIOD: Final = """
SELECT spend, reserved, requests FROM "Atrium_BudgetPeriod" WHERE account_id = $1 AND period_start = $2 FOR UPDATE
"""
_HOLD: Final = """
UPDATE "Atrium_BudgetPeriod" SET reserved = reserved + $3, updated_at = now()
WHERE account_id = $1 AND period_start = $2
"""
_HOLD_SLICE: Final = """
INSERT INTO "Atrium_BudgetReservation" (id, account_id, period_start, amount, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
ON CONFLICT (id) DO UPDATE SET amount = "Atrium_BudgetReservation".amount + EXCLUDED.amount,
    expires_at = EXCLUDED.expires_at
"""
# Sums of floats leave residues (1e-15) where nothing is held any more: reserved is rounded to 1e-10 USD.
# $4 (what the slice gives back) is the worker's own figure: only it changes its slice row. A row
# swept meanwhile (its lease ran out) was already given back, so nothing is taken off twice.
_FLUSH: Final = """
WITH kept AS (
    UPDATE "Atrium_BudgetReservation"
    SET amount = GREATEST(amount - $4, 0), expires_at = now() + make_interval(secs => $7)
    WHERE id = $1 RETURNING id
)
UPDATE "Atrium_BudgetPeriod"
SET spend = spend + $5, requests = requests + $6,
    reserved = GREATEST(
        round((reserved - CASE WHEN EXISTS (SELECT 1 FROM kept) THEN $4 ELSE 0 END)::numeric, 10)::float8, 0
    ),
    updated_at = now()
WHERE account_id = $2 AND period_start = $3
RETURNING spend, EXISTS (SELECT 1 FROM kept) AS held
"""
_CLOSE: Final = """
WITH taken AS (DELETE FROM "Atrium_BudgetReservation" WHERE id = $1 RETURNING amount)
UPDATE "Atrium_BudgetPeriod"
SET spend = spend + $4, requests = requests + $5,
    reserved = GREATEST(round((reserved - coalesce((SELECT sum(amount) FROM taken), 0))::numeric, 10)::float8, 0),
    updated_at = now()
WHERE account_id = $2 AND period_start = $3
RETURNING spend
"""
# A cost with no slice behind it (none was needed, or it was closed first): still charged.
_CHARGE: Final = """
UPDATE "Atrium_BudgetPeriod" SET spend = spend + $3, requests = requests + 1, updated_at = now()
WHERE account_id = $1 AND period_start = $2 RETURNING spend
"""
_RENEW: Final = """
UPDATE "Atrium_BudgetReservation" SET expires_at = now() + make_interval(secs => $2) WHERE id = ANY($1::text[])
"""
_SWEEP: Final = """
WITH gone AS (
    DELETE FROM "Atrium_BudgetReservation"
    WHERE id IN (SELECT id FROM "Atrium_BudgetReservation" WHERE expires_at < now()
                 ORDER BY expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
    RETURNING account_id, period_start, amount
), per_period AS (
    SELECT account_id, period_start, sum(amount) AS amount FROM gone GROUP BY account_id, period_start
)
UPDATE "Atrium_BudgetPeriod" AS p
SET reserved = GREATEST(round((p.reserved - per_period.amount)::numeric, 10)::float8, 0), updated_at = now()
FROM per_period WHERE p.account_id = per_period.account_id AND p.period_start = per_period.period_start
RETURNING p.account_id, p.period_start
"""
# After a sweep: the dead worker settled costs it never flushed; LiteLLM logged them. Raising the
# period's spend to the logs' sum (never lowering it: the ledger is ahead of LiteLLM's batched
# log writes) counts them once.
_RECONCILE: Final = """
UPDATE "Atrium_BudgetPeriod" AS p SET spend = logged.spend, updated_at = now()
FROM (
    SELECT coalesce(sum(l.spend), 0) AS spend FROM "LiteLLM_SpendLogs" AS l, "Atrium_BudgetPeriod" AS q
    WHERE q.account_id = $1 AND q.period_start = $2
      AND l.account_id = $1 AND l."startTime" >= q.period_start AND l."startTime" < q.period_end
) AS logged
WHERE p.account_id = $1 AND p.period_start = $2 AND logged.spend > p.spend
"""
_STATE: Final = """
SELECT spend, reserved, requests FROM "Atrium_BudgetPeriod" WHERE account_id = $1 AND period_start = $2
"""


@dataclass(frozen=True)
class PeriodState:
    spend: float
    reserved: float
    requests: int


@dataclass(frozen=True)
class Lease:
    """What a lease got: ``granted`` (None: refused, the need did not fit) and the period as it was."""

    granted: float | None
    state: PeriodState


class Ledger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._opened: set[tuple[str, datetime]] = set()

    async def _open(self, account_id: str, period: Period) -> datetime:
        start = db_time(period.start)
        if (account_id, start) not in self._opened:
            await self.pool.execute(_OPEN_PERIOD, account_id, start, db_time(period.end))
            self._opened.add((account_id, start))
        return start

    async def lease(
        self,
        slice_id: str,
        account_id: str,
        period: Period,
        *,
        need: float,
        want: float,
        limit: float | None,
        share: float = 1.0,
        lease: float = LEASE_S,
    ) -> Lease:
        """Add to the slice ``slice_id`` at least ``need`` and up to ``want``, but no more than ``share``
        of what the period has left (so slices shrink as the limit nears), or nothing when
        spend + reserved + need would pass ``limit`` (None: not enforced, ``want`` is granted)."""
        start = await self._open(account_id, period)
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_LOCK_PERIOD, account_id, start)
            if row is None:  # removed behind this worker's back (a test, an operator): open it again
                await conn.execute(_OPEN_PERIOD, account_id, start, db_time(period.end))
                row = await conn.fetchrow(_LOCK_PERIOD, account_id, start)
            state = PeriodState(float(row["spend"]), float(row["reserved"]), int(row["requests"]))
            if limit is None:
                granted = max(want, need)
            else:
                left = limit - state.spend - state.reserved
                if need > left:
                    return Lease(None, state)
                granted = max(need, min(want, left * share))
            if granted > 0:
                await conn.execute(_HOLD, account_id, start, granted)
                await conn.execute(_HOLD_SLICE, slice_id, account_id, start, granted, lease)
        return Lease(granted, state)

    async def flush(
        self, slice_id: str, account_id: str, period: Period, *, give_back: float, cost: float, requests: int
    ) -> tuple[float, bool]:
        """Move ``cost`` (of ``requests`` calls) into the period's spend and ``give_back`` out of the
        slice; the period's spend after, and whether the slice is still held (not swept)."""
        row = await self.pool.fetchrow(
            _FLUSH, slice_id, account_id, db_time(period.start), give_back, cost, requests, LEASE_S
        )
        if row is None:
            return 0.0, False
        return float(row["spend"]), bool(row["held"])

    async def close(self, slice_id: str, account_id: str, period: Period, *, cost: float, requests: int) -> float:
        """Charge what the slice settled and give the rest of it back; the period's spend after."""
        spend = await self.pool.fetchval(_CLOSE, slice_id, account_id, db_time(period.start), cost, requests)
        return float(spend or 0.0)

    async def charge(self, account_id: str, period: Period, cost: float) -> float | None:
        start = await self._open(account_id, period)
        spend = await self.pool.fetchval(_CHARGE, account_id, start, cost)
        return None if spend is None else float(spend)

    async def renew(self, slice_ids: list[str], lease: float = LEASE_S) -> None:
        if slice_ids:
            await self.pool.execute(_RENEW, slice_ids, lease)

    async def sweep(self) -> int:
        """Release expired leases (their workers died) and bring those periods' spend up to the spend
        logs; safe to run from every worker at once."""
        swept = await self.pool.fetch(_SWEEP)
        for row in swept:
            await self.pool.execute(_RECONCILE, row["account_id"], row["period_start"])
        return len(swept)

    async def state(self, account_id: str, period: Period) -> PeriodState:
        row = await self.pool.fetchrow(_STATE, account_id, db_time(period.start))
        if row is None:
            return PeriodState(0.0, 0.0, 0)
        return PeriodState(float(row["spend"]), float(row["reserved"]), int(row["requests"]))
