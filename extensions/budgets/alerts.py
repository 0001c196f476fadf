"""Budget threshold alerts: each threshold fires once per account and period, across replicas.

The ledger calls :meth:`BudgetAlerts.settled` with the account's period spend after every
settlement. Firing a threshold is claiming it: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
into ``Atrium_BudgetAlert`` (primary key account, period start, threshold), so of any number of
workers and replicas that see the same crossing only the one whose insert returns the row fires.
Its deliveries (one per channel) are written to the ``Atrium_AlertDelivery`` outbox in the same
transaction: an alert is never claimed without its deliveries, and they survive restarts.

Every worker runs a delivery loop. It takes due rows with ``FOR UPDATE SKIP LOCKED`` and, in the
same statement, leases them (``next_attempt_at`` moves past the send timeout), so exactly one
worker sends a row without a transaction held open over the network; a worker that dies
mid-send leaves the row to be retried when the lease ends. Failures back off exponentially
(``ATRIUM_ALERT_RETRY_BASE_S``, default 2 s, doubling, capped) up to ``max_attempts``, then the
row is ``failed``. Webhook receivers deduplicate on the delivery id, which retries keep.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg

from extensions.background import Loop
from extensions.budgets.alert_config import AlertConfig, AlertConfigStore
from extensions.budgets.delivery import Attempt, Delivery, Sender
from extensions.budgets.periods import db_time

__all__ = ["RETRY_BASE_ENV", "BudgetAlerts", "RetryPolicy", "alert_history"]

log = logging.getLogger("atrium.budget_alerts")

RETRY_BASE_ENV: Final = "ATRIUM_ALERT_RETRY_BASE_S"
POLL_ENV: Final = "ATRIUM_ALERT_POLL_S"
LEASE_S: Final = 60.0  # longer than a send can take (delivery.SEND_TIMEOUT_S)
BATCH: Final = 20
_KNOWN_MAX: Final = 10_000

_CLAIM: Final = """
INSERT INTO "Atrium_BudgetAlert" (id, account_id, period_start, period_end, threshold, spend, max_budget)
SELECT t.id, $1, $2, $3, t.threshold, $6, $7 FROM unnest($4::text[], $5::float8[]) AS t(id, threshold)
ON CONFLICT (account_id, period_start, threshold) DO NOTHING
RETURNING id, threshold
"""
_ENQUEUE: Final = """
INSERT INTO "Atrium_AlertDelivery" (id, account_id, alert_id, channel, target, payload)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
"""
_TAKE: Final = """
UPDATE "Atrium_AlertDelivery" d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
WHERE d.id IN (
    SELECT id FROM "Atrium_AlertDelivery"
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING d.id, d.account_id, d.alert_id, d.channel, d.target, d.payload, d.attempts
"""
_DELIVERED: Final = """
UPDATE "Atrium_AlertDelivery"
SET status = 'delivered', delivered_at = now(), last_status_code = $2, last_error = NULL
WHERE id = $1
"""
_FAILED: Final = """
UPDATE "Atrium_AlertDelivery"
SET status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
    next_attempt_at = now() + make_interval(secs => $5), last_status_code = $2, last_error = $3
WHERE id = $1
"""


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 2.0
    cap_s: float = 900.0
    max_attempts: int = 8  # 2+4+...+256 s: about 8.5 minutes of retries at the default base

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(base_s=_env_float(RETRY_BASE_ENV, cls.base_s))

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones."""
        return float(min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1)))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _crossed(spend: float, max_budget: float, thresholds: Sequence[float]) -> list[float]:
    if max_budget <= 0:
        return []
    return sorted({round(float(t), 4) for t in thresholds if t > 0 and spend >= max_budget * float(t) / 100})


def _deliveries(config: AlertConfig | None, account_id: str, fired: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    if config is None or not config.enabled:
        return []  # the alert is still recorded: the history shows it
    rows: list[tuple[str, str, str, str, str, str]] = []
    for alert_id, payload in fired:
        body = json.dumps(payload)
        if config.webhook_url and config.webhook_secret_enc:
            rows.append((str(uuid.uuid4()), account_id, alert_id, "webhook", config.webhook_url, body))
        if config.emails:
            rows.append((str(uuid.uuid4()), account_id, alert_id, "email", ", ".join(config.emails), body))
    return rows


class BudgetAlerts:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        retry: RetryPolicy | None = None,
        poll_s: float | None = None,
        sender: Sender | None = None,
    ) -> None:
        self.pool = pool
        self.configs = AlertConfigStore(pool)
        self.retry = retry or RetryPolicy.from_env()
        self._poll_s = poll_s if poll_s is not None else _env_float(POLL_ENV, 2.0)
        self._sender = sender or Sender(self.configs)
        # Thresholds this worker knows are claimed (by anyone): the ledger calls settled() on every
        # request, and once a threshold is crossed it stays crossed for the rest of the period.
        self._known: set[tuple[str, datetime, float]] = set()
        # Woken at once by this worker's own claims; other replicas' rows are found by polling.
        self._loop = Loop("atrium-budget-alerts", self._deliver, self._poll_s, log)

    async def settled(
        self,
        *,
        account_id: str,
        period_start: datetime,
        period_end: datetime,
        spend: float,
        max_budget: float,
        thresholds: Sequence[float],
    ) -> None:
        """Called with the account's period spend after a settlement; fires each crossed threshold
        (percent of max_budget) once per period.

        Never raises: an alert must not fail the request that settled. A claim that could not be
        written is tried again at the next settlement.
        """
        start, end = db_time(period_start), db_time(period_end)
        new = [t for t in _crossed(spend, max_budget, thresholds) if (account_id, start, t) not in self._known]
        if not new:
            return
        try:
            enqueued = await self._claim(account_id, start, end, new, spend, max_budget)
        except Exception:
            log.warning("budget alert not claimed; tried again at the next settlement", exc_info=True)
            return
        if len(self._known) > _KNOWN_MAX:
            self._known.clear()
        self._known.update((account_id, start, t) for t in new)
        if enqueued:
            self._loop.wake()

    async def _claim(
        self, account_id: str, start: datetime, end: datetime, new: list[float], spend: float, max_budget: float
    ) -> int:
        ids = [str(uuid.uuid4()) for _ in new]
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetch(_CLAIM, account_id, start, end, ids, new, spend, max_budget)
            if not claimed:
                return 0  # another worker or replica fired them
            fired = [
                (
                    row["id"],
                    {
                        "type": "budget.threshold",
                        "account_id": account_id,
                        "threshold": row["threshold"],
                        "spend": spend,
                        "max_budget": max_budget,
                        "period_start": _iso(start),
                        "period_end": _iso(end),
                        "alert_id": row["id"],
                    },
                )
                for row in claimed
            ]
            log.info(
                "budget alert fired", extra={"account_id": account_id, "thresholds": [f[1]["threshold"] for f in fired]}
            )
            rows = _deliveries(await self.configs.get(account_id, conn), account_id, fired)
            if rows:
                await conn.executemany(_ENQUEUE, rows)
            return len(rows)

    async def deliver_due(self) -> int:
        """Send the deliveries due now (a batch); how many were attempted."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_TAKE, BATCH, LEASE_S)
        taken = [
            Delivery(
                id=r["id"],
                account_id=r["account_id"],
                alert_id=r["alert_id"],
                channel=r["channel"],
                target=r["target"],
                payload=json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"],
                attempts=r["attempts"],
            )
            for r in rows
        ]
        await asyncio.gather(*(self._attempt(d) for d in taken))
        return len(taken)

    async def _attempt(self, delivery: Delivery) -> None:
        outcome = await self._sender.send(delivery)
        await self._record(delivery, outcome)

    async def _record(self, delivery: Delivery, outcome: Attempt) -> None:
        if outcome.delivered:
            await self.pool.execute(_DELIVERED, delivery.id, outcome.status_code)
            return
        final = outcome.final or delivery.attempts >= self.retry.max_attempts
        log.warning(
            "budget alert delivery failed",
            extra={"delivery_id": delivery.id, "attempts": delivery.attempts, "final": final, "error": outcome.error},
        )
        delay = self.retry.delay(delivery.attempts)
        await self.pool.execute(_FAILED, delivery.id, outcome.status_code, outcome.error, final, delay)

    def start(self) -> None:
        """Start this worker's delivery loop (every worker of every replica runs one)."""
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        await self._sender.close()

    async def _deliver(self) -> float | None:
        return 0.0 if await self.deliver_due() else None  # a full batch may leave more due


async def alert_history(pool: asyncpg.Pool, account_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The account's newest alerts, each with its delivery log (no payloads, no secrets)."""
    alerts = await pool.fetch(
        'SELECT id, threshold, spend, max_budget, period_start, period_end, fired_at FROM "Atrium_BudgetAlert" '
        "WHERE account_id = $1 ORDER BY fired_at DESC, threshold DESC LIMIT $2",
        account_id,
        limit,
    )
    deliveries = await pool.fetch(
        "SELECT id, alert_id, channel, target, status, attempts, last_status_code, last_error, created_at, "
        'delivered_at, next_attempt_at FROM "Atrium_AlertDelivery" WHERE account_id = $1 AND alert_id = ANY($2) '
        "ORDER BY created_at, channel",
        account_id,
        [a["id"] for a in alerts],
    )
    by_alert: dict[str, list[dict[str, Any]]] = {}
    for d in deliveries:
        by_alert.setdefault(d["alert_id"], []).append(
            {
                "delivery_id": d["id"],
                "channel": d["channel"],
                "target": d["target"],
                "status": d["status"],
                "attempts": d["attempts"],
                "last_status_code": d["last_status_code"],
                "last_error": d["last_error"],
                "created_at": _iso(d["created_at"]),
                "delivered_at": _iso(d["delivered_at"]),
                "next_attempt_at": _iso(d["next_attempt_at"]) if d["status"] == "pending" else None,
            }
        )
    return [
        {
            "alert_id": a["id"],
            "threshold": a["threshold"],
            "spend": a["spend"],
            "max_budget": a["max_budget"],
            "period_start": _iso(a["period_start"]),
            "period_end": _iso(a["period_end"]),
            "fired_at": _iso(a["fired_at"]),
            "deliveries": by_alert.get(a["id"], []),
        }
        for a in alerts
    ]
