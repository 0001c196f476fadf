"""The account budget ledger in PostgreSQL: reserve a worst case, settle the real cost, release.

PostgreSQL is the source of truth and the point of atomicity: one row per account and period
(``Atrium_BudgetPeriod``: settled ``spend`` and in-flight ``reserved``) and one row per open
reservation (``Atrium_BudgetReservation``, a lease). Admission is a single conditional UPDATE,
so any number of workers and replicas can never reserve past the limit together; settlement
deletes the reservation row and moves its amount from ``reserved`` to ``spend`` in one
statement, so a reservation is settled or released exactly once. A worker that dies leaves
leases that expire; any worker's sweep releases them. Nothing lives only in a cache, so a
restart or a Redis outage loses nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from extensions.budgets.periods import Period, db_time

__all__ = ["LEASE_S", "Ledger", "PeriodState", "Reservation"]

# Sums of floats leave residues (1e-15) where nothing is held any more: reserved is rounded to 1e-10 USD.
LEASE_S: Final = 300.0  # renewed every minute while the request runs

# A period opens with what the account already spent in it (LiteLLM's spend logs), so a budget
# set mid-period, or a ledger rebuilt, starts from PostgreSQL's figures rather than from zero.
_OPEN_PERIOD: Final = """
INSERT INTO "Atrium_BudgetPeriod" (account_id, period_start, period_end, spend)
SELECT $1, $2, $3, coalesce(sum(spend), 0) FROM "LiteLLM_SpendLogs"
WHERE account_id = $1 AND "startTime" >= $2 AND "startTime" < $3
ON CONFLICT (account_id, period_start) DO NOTHING
"""
# $4: the hard limit (NULL: not enforced, the reservation is only recorded).
_RESERVE: Final = """
WITH held AS (
    UPDATE "Atrium_BudgetPeriod" SET reserved = reserved + $3, updated_at = now()
    WHERE account_id = $1 AND period_start = $2
      AND ($4::double precision IS NULL OR spend + reserved + $3 <= $4::double precision)
    RETURNING account_id
)
INSERT INTO "Atrium_BudgetReservation" (id, account_id, period_start, amount, expires_at)
SELECT $5, account_id, $2, $3, now() + make_interval(secs => $6) FROM held
RETURNING id
"""
_SETTLE: Final = """
WITH taken AS (
    DELETE FROM "Atrium_BudgetReservation" WHERE id = $1 RETURNING account_id, period_start, amount
)
UPDATE "Atrium_BudgetPeriod" AS p
SET reserved = GREATEST(round((p.reserved - taken.amount)::numeric, 10)::float8, 0), spend = p.spend + $2,
    requests = p.requests + CASE WHEN $2 > 0 THEN 1 ELSE 0 END, updated_at = now()
FROM taken WHERE p.account_id = taken.account_id AND p.period_start = taken.period_start
RETURNING p.spend
"""
# A cost with no open reservation (none was needed, or its lease was swept): still charged.
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
RETURNING p.account_id
"""
_STATE: Final = """
SELECT spend, reserved, requests FROM "Atrium_BudgetPeriod" WHERE account_id = $1 AND period_start = $2
"""


@dataclass(frozen=True)
class Reservation:
    id: str
    account_id: str
    period: Period
    amount: float


@dataclass(frozen=True)
class PeriodState:
    spend: float
    reserved: float
    requests: int


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

    async def reserve(
        self, account_id: str, period: Period, amount: float, limit: float | None, lease: float = LEASE_S
    ) -> Reservation | None:
        """Hold ``amount`` in the period, or None when spend + reserved + amount would pass ``limit``."""
        start = await self._open(account_id, period)
        reservation_id = uuid.uuid4().hex
        held = await self.pool.fetchval(_RESERVE, account_id, start, amount, limit, reservation_id, lease)
        return None if held is None else Reservation(reservation_id, account_id, period, amount)

    async def settle(self, reservation: Reservation, cost: float) -> float | None:
        """Replace the held amount by the real ``cost``; the period's spend after, or None if unknown."""
        spend = await self.pool.fetchval(_SETTLE, reservation.id, cost)
        if spend is None and cost > 0:  # the lease was swept first: the cost is still the account's
            spend = await self.charge(reservation.account_id, reservation.period, cost)
        return None if spend is None else float(spend)

    async def release(self, reservation: Reservation) -> None:
        await self.pool.fetchval(_SETTLE, reservation.id, 0.0)

    async def charge(self, account_id: str, period: Period, cost: float) -> float | None:
        start = await self._open(account_id, period)
        spend = await self.pool.fetchval(_CHARGE, account_id, start, cost)
        return None if spend is None else float(spend)

    async def renew(self, reservation_ids: list[str], lease: float = LEASE_S) -> None:
        if reservation_ids:
            await self.pool.execute(_RENEW, reservation_ids, lease)

    async def sweep(self) -> int:
        """Release expired leases (their workers died); safe to run from every worker at once."""
        return len(await self.pool.fetch(_SWEEP))

    async def state(self, account_id: str, period: Period) -> PeriodState:
        row = await self.pool.fetchrow(_STATE, account_id, db_time(period.start))
        if row is None:
            return PeriodState(0.0, 0.0, 0)
        return PeriodState(float(row["spend"]), float(row["reserved"]), int(row["requests"]))
