"""An account's budget settings (``Atrium_AccountBudget``), read through a per-worker cache.

The super admin sets them; a change is published on the invalidation bus (as a change of the
account), so every worker and replica drops its copy at once; the cache also expires after
``CACHE_TTL_S``, which bounds staleness when a message is lost. The bus is what applies a
change (as for plans): a TTL of a second made every request of a quiet account read the row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import asyncpg

from extensions.budgets.periods import CALENDAR_MONTH, Period, db_time, period_at
from extensions.budgets.plans import entitlements_of
from extensions.tenancy.accounts.invalidation import InvalidationBus

__all__ = ["CACHE_TTL_S", "DEFAULT_THRESHOLDS", "BudgetSettings", "BudgetSettingsStore", "Mode"]

CACHE_TTL_S: Final = 30.0
DEFAULT_THRESHOLDS: Final = (50.0, 80.0, 95.0, 100.0)
Mode = Literal["block", "alert_only"]
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BudgetSettings:
    account_id: str
    max_budget: float | None = None  # None: no account budget
    budget_duration: str | None = None  # None: never resets
    timezone: str = "UTC"
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS  # percent of max_budget
    overage_amount: float = 0.0
    overage_percent: float = 0.0
    mode: Mode = "block"
    anchor: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def hard_limit(self) -> float | None:
        """What admission may reserve up to: the budget plus the overage allowance."""
        if self.max_budget is None:
            return None
        return self.max_budget + max(self.overage_amount, self.max_budget * self.overage_percent / 100.0)

    @property
    def enforced(self) -> bool:
        return self.max_budget is not None and self.mode == "block"

    def period(self, now: datetime | None = None) -> Period:
        return period_at(
            now or datetime.now(UTC), duration=self.budget_duration, anchor=self.anchor, timezone=self.timezone
        )

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out["thresholds"] = list(self.thresholds)
        out["hard_limit"] = self.hard_limit
        for name in ("anchor", "updated_at"):
            out[name] = out[name].isoformat() if out[name] is not None else None
        return out


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _from_row(row: asyncpg.Record) -> BudgetSettings:
    thresholds = row["thresholds"]
    if isinstance(thresholds, str):
        thresholds = json.loads(thresholds)
    return BudgetSettings(
        account_id=row["account_id"],
        max_budget=row["max_budget"],
        budget_duration=row["budget_duration"],
        timezone=row["timezone"],
        thresholds=tuple(float(t) for t in thresholds),
        overage_amount=row["overage_amount"],
        overage_percent=row["overage_percent"],
        mode=row["mode"],
        anchor=_aware(row["anchor"]) or datetime.now(UTC),
        updated_at=_aware(row["updated_at"]),
        updated_by=row["updated_by"],
    )


_UPSERT: Final = """
INSERT INTO "Atrium_AccountBudget" (account_id, max_budget, budget_duration, timezone, thresholds,
    overage_amount, overage_percent, mode, anchor, updated_at, updated_by)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, now(), $10)
ON CONFLICT (account_id) DO UPDATE SET max_budget = EXCLUDED.max_budget,
    budget_duration = EXCLUDED.budget_duration, timezone = EXCLUDED.timezone,
    thresholds = EXCLUDED.thresholds, overage_amount = EXCLUDED.overage_amount,
    overage_percent = EXCLUDED.overage_percent, mode = EXCLUDED.mode,
    anchor = CASE WHEN "Atrium_AccountBudget".budget_duration IS DISTINCT FROM EXCLUDED.budget_duration
                  OR "Atrium_AccountBudget".timezone IS DISTINCT FROM EXCLUDED.timezone
             THEN EXCLUDED.anchor ELSE "Atrium_AccountBudget".anchor END,
    updated_at = now(), updated_by = EXCLUDED.updated_by
RETURNING *
"""


class BudgetSettingsStore:
    def __init__(self, pool: asyncpg.Pool, bus: InvalidationBus | None = None, ttl: float = CACHE_TTL_S) -> None:
        self.pool = pool
        self.bus = bus
        self.ttl = ttl
        self._cache: dict[str, tuple[float, BudgetSettings | None]] = {}

    def on_invalidate(self, message: dict[str, Any]) -> None:
        if message.get("kind") == "account" and isinstance(message.get("id"), str):
            self._cache.pop(message["id"], None)
        elif message.get("kind") != "key":
            self._cache.clear()

    async def effective(self, account_id: str) -> BudgetSettings | None:
        """The budget that applies: the account's own, else its plan's monthly cost (a calendar-month
        budget in UTC, blocking), else none."""
        own = await self.get(account_id)
        if own is not None and own.max_budget is not None:
            return own
        monthly = (await entitlements_of(account_id)).limit("max_budget_monthly")
        if monthly is None:
            return own
        return BudgetSettings(
            account_id=account_id,
            max_budget=float(monthly),
            budget_duration=CALENDAR_MONTH,
            anchor=_EPOCH,
            updated_by="plan",
        )

    async def get(self, account_id: str) -> BudgetSettings | None:
        """The account's own settings (None: no budget), at most ``ttl`` seconds old."""
        now = time.monotonic()
        cached = self._cache.get(account_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        row = await self.pool.fetchrow('SELECT * FROM "Atrium_AccountBudget" WHERE account_id = $1', account_id)
        settings = _from_row(row) if row is not None else None
        self._cache[account_id] = (now, settings)
        return settings

    async def put(self, settings: BudgetSettings, *, by: str | None) -> BudgetSettings:
        """Create or replace; the period anchor moves only when the duration or time zone changes."""
        row = await self.pool.fetchrow(
            _UPSERT,
            settings.account_id,
            settings.max_budget,
            settings.budget_duration,
            settings.timezone,
            json.dumps(list(settings.thresholds)),
            settings.overage_amount,
            settings.overage_percent,
            settings.mode,
            db_time(settings.anchor),
            by,
        )
        stored = _from_row(row)
        self._cache[settings.account_id] = (time.monotonic(), stored)
        if self.bus is not None:
            await self.bus.publish({"kind": "account", "id": settings.account_id})
        return stored


def thresholds_of(values: Sequence[float] | None) -> tuple[float, ...]:
    return DEFAULT_THRESHOLDS if values is None else tuple(sorted({float(v) for v in values}))
