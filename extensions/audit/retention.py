"""Retention: entries older than the account's ``audit_retention_days`` (default 365) are pruned.

Every worker runs the loop; ``pg_try_advisory_lock`` lets one of them (across replicas) prune
at a time. Pruning removes a prefix of a chain (entries are in time order: the time is taken
under the chain's lock) and records the last pruned entry's seq and hash in the head row, so
``atrium audit verify`` starts from that checkpoint instead of seeing a deletion.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from extensions.background import Loop

__all__ = ["DEFAULT_RETENTION_DAYS", "Pruner", "prune"]

log = logging.getLogger("atrium.audit")

DEFAULT_RETENTION_DAYS: Final = 365
PRUNE_INTERVAL_S: Final = 3600.0
_LOCK_KEY: Final = 0x61756469  # "audi": the one advisory lock of the pruning job

_CHAINS: Final = """
SELECT h.account_id, COALESCE((a.settings ->> 'audit_retention_days')::int, $1) AS days
FROM "Atrium_AuditHead" h LEFT JOIN "Atrium_Account" a ON a.account_id = h.account_id
"""
_LAST_EXPIRED: Final = """
SELECT seq, hash FROM "Atrium_AuditLog" WHERE account_id = $1 AND time < $2 ORDER BY seq DESC LIMIT 1
"""

_DELETE: Final = 'DELETE FROM "Atrium_AuditLog" WHERE account_id = $1 AND seq <= $2'


def _default_days() -> int:
    return int(os.environ.get("ATRIUM_AUDIT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


async def prune(conn: Any, now: datetime | None = None) -> int:
    """Prune every chain once (if this connection gets the job's lock); entries removed."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
        return 0
    removed = 0
    try:
        now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        for chain in await conn.fetch(_CHAINS, _default_days()):
            cutoff = now - timedelta(days=max(int(chain["days"]), 1))
            async with conn.transaction():
                # The head's lock keeps appends out while the checkpoint moves.
                await conn.execute(
                    'SELECT 1 FROM "Atrium_AuditHead" WHERE account_id = $1 FOR UPDATE', chain["account_id"]
                )
                last = await conn.fetchrow(_LAST_EXPIRED, chain["account_id"], cutoff)
                if last is None:
                    continue
                status = await conn.execute(
                    'DELETE FROM "Atrium_AuditLog" WHERE account_id = $1 AND seq <= $2',
                    chain["account_id"],
                    last["seq"],
                )
                await conn.execute(
                    'UPDATE "Atrium_AuditHead" SET pruned_seq = $2, pruned_hash = $3 WHERE account_id = $1',
                    chain["account_id"],
                    last["seq"],
                    last["hash"],
                )
                removed += int(status.split()[-1])
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return removed


class Pruner:
    """The background loop of one worker."""

    def __init__(self, pool: Any, interval: float = PRUNE_INTERVAL_S) -> None:
        self.pool = pool
        self.loop = Loop("atrium-audit-prune", self._step, interval, log)

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    async def _step(self) -> None:
        async with self.pool.acquire() as conn:
            removed = await prune(conn)
        if removed:
            log.info("audit entries pruned", extra={"removed": removed})
