"""Forwarding the audit log to sinks: from a durable cursor over the log, at least once, never in the way.

The log in PostgreSQL stays the record; a sink gets a copy. Requests never wait for a sink: an
entry is committed by the request (``chain.append``) and forwarded later by a background loop.
For each sink and account chain, ``Atrium_AuditSinkCursor`` keeps the last ``(seq, hash)`` the sink
accepted. A forwarding step reads at most ``batch`` entries past the cursors, sends them in one
request and moves the cursors only after a 2xx. So:

- a receiver that is down costs nothing but a growing lag: the entries wait in the log, not in
  memory (the only buffer is one batch), and are sent, in order, once it answers again;
- a restart loses nothing: the next step starts from the cursors;
- delivery is at least once: a batch the receiver took whose answer was lost (timeout, crash
  before the cursor moved) is sent again. Receivers deduplicate on ``(account_id, seq)`` or the
  entry ``id`` (the bulk format uses it as the document id, so a resend overwrites).

One worker across all replicas forwards to a sink at a time (``pg_try_advisory_lock`` on the
sink's key, held on one connection for the step), so the cursors only move forward and two
workers never send the same batch. Failures back off exponentially per worker, from the interval
up to ``retry_max_s``. Entries that retention prunes before a sink got them are skipped with a
warning: keep retention longer than the longest outage you want to ride out.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from typing import Any, Final

import httpx

from extensions.audit.sink_config import SinkSettings, SinkTarget
from extensions.audit.sink_formats import answer_problem, encode, record
from extensions.background import Loop

__all__ = ["LOCK_CLASS", "Forwarder", "SinkForwarding", "forward_once", "lock_key"]

log = logging.getLogger("atrium.audit.sinks")

LOCK_CLASS: Final = 0x61756473  # "auds": the first key of the sinks' (and anchoring's) advisory locks

# Chains with entries past this sink's cursor, the least recently served first (one busy account
# does not starve the others).
_PENDING: Final = """
SELECT h.account_id, COALESCE(c.seq, 0) AS sent, h.pruned_seq, h.pruned_hash
FROM "Atrium_AuditHead" h
LEFT JOIN "Atrium_AuditSinkCursor" c ON c.sink = $1 AND c.account_id = h.account_id
WHERE h.seq > COALESCE(c.seq, 0)
ORDER BY c.updated_at NULLS FIRST, h.account_id
LIMIT $2
"""
_ENTRIES: Final = 'SELECT * FROM "Atrium_AuditLog" WHERE account_id = $1 AND seq > $2 ORDER BY seq, id LIMIT $3'
# Only forward: a cursor never moves back.
_ADVANCE: Final = """
INSERT INTO "Atrium_AuditSinkCursor" AS c (sink, account_id, seq, hash, updated_at)
SELECT $1, t.account_id, t.seq, t.hash, now()
FROM unnest($2::text[], $3::bigint[], $4::text[]) AS t(account_id, seq, hash)
ON CONFLICT (sink, account_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, updated_at = now()
WHERE c.seq < EXCLUDED.seq
"""


def lock_key(name: str) -> int:
    """The second advisory lock key of a sink (a signed int4)."""
    return int.from_bytes(zlib.crc32(name.encode()).to_bytes(4, "big"), "big", signed=True)


async def advance(conn: Any, sink: str, heads: dict[str, tuple[int, str]]) -> None:
    if heads:
        accounts = list(heads)
        await conn.execute(_ADVANCE, sink, accounts, [heads[a][0] for a in accounts], [heads[a][1] for a in accounts])


async def pending(conn: Any, sink: str, batch: int) -> tuple[list[Any], dict[str, tuple[int, str]]]:
    """At most ``batch`` entries past the sink's cursors, and where each chain's cursor goes once sent."""
    rows: list[Any] = []
    heads: dict[str, tuple[int, str]] = {}
    for chain in await conn.fetch(_PENDING, sink, batch):
        if len(rows) >= batch:
            break
        account, sent = chain["account_id"], int(chain["sent"])
        found = await conn.fetch(_ENTRIES, account, sent, batch - len(rows))
        if found and int(found[0]["seq"]) > sent + 1 and int(chain["pruned_seq"]) > sent:
            log.warning(
                "audit entries pruned before the sink got them",
                extra={"sink": sink, "account_id": account, "from_seq": sent + 1, "to_seq": int(found[0]["seq"]) - 1},
            )
        if not found:
            if int(chain["pruned_seq"]) > sent:  # everything past the cursor was pruned: move past it
                log.warning(
                    "audit entries pruned before the sink got them", extra={"sink": sink, "account_id": account}
                )
                await advance(conn, sink, {account: (int(chain["pruned_seq"]), chain["pruned_hash"])})
            continue
        rows += found
        heads[account] = (int(found[-1]["seq"]), found[-1]["hash"])
    return rows, heads


class SinkRefused(Exception):
    """A sink did not take a batch (no 2xx, or a 2xx that asks for a resend)."""


async def send(client: httpx.AsyncClient, target: SinkTarget, entries: Sequence[dict[str, Any]]) -> None:
    body, content_type = encode(target, entries)
    try:
        response = await client.post(
            target.url,
            content=body,
            headers={**target.headers, "Content-Type": content_type},
            auth=target.client_auth() or httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.HTTPError as exc:
        # The exception's text, not its URL: a URL may carry a credential.
        raise SinkRefused(f"{type(exc).__name__}") from exc
    if not 200 <= response.status_code < 300:
        raise SinkRefused(f"HTTP {response.status_code}")
    problem = answer_problem(target, response.content)
    if problem is not None:
        message, resend = problem
        if resend:
            raise SinkRefused(message)
        log.warning("audit sink took a batch in part", extra={"sink": target.name, "problem": message})


async def forward_once(pool: Any, client: httpx.AsyncClient, target: SinkTarget, batch: int) -> int | None:
    """One step: entries forwarded (0: nothing pending), or None when another worker holds the sink."""
    async with pool.acquire() as conn:
        key = lock_key(target.name)
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, key):
            return None
        try:
            rows, heads = await pending(conn, target.name, batch)
            if not rows:
                return 0
            await send(client, target, [record(row) for row in rows])
            await advance(conn, target.name, heads)
            return len(rows)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, key)


class Forwarder:
    """One sink's loop in one worker."""

    def __init__(self, pool: Any, target: SinkTarget, settings: SinkSettings) -> None:
        self.pool = pool
        self.target = target
        self.settings = settings
        self.failures = 0
        self._client = httpx.AsyncClient(timeout=settings.timeout_s, follow_redirects=False)
        self.loop = Loop(f"atrium-audit-sink-{target.name}", self.step, settings.interval_s, log)

    async def step(self) -> float | None:
        try:
            sent = await forward_once(self.pool, self._client, self.target, self.settings.batch)
        except SinkRefused as exc:
            self.failures += 1
            delay = float(min(self.settings.retry_max_s, self.settings.interval_s * 2.0 ** min(self.failures, 30)))
            log.warning(
                "audit sink refused a batch; retried later",
                extra={"sink": self.target.name, "reason": str(exc), "attempt": self.failures, "retry_in_s": delay},
            )
            return delay
        if self.failures and sent is not None:
            log.info("audit sink answers again", extra={"sink": self.target.name, "after_failures": self.failures})
            self.failures = 0
        # A full batch leaves more behind: go on at once.
        return 0.0 if sent is not None and sent >= self.settings.batch else None

    async def close(self) -> None:
        await self.loop.stop()
        await self._client.aclose()


class SinkForwarding:
    """Every configured sink's forwarder of this worker (the lifespan starts and stops them)."""

    def __init__(self, pool: Any, settings: SinkSettings) -> None:
        self.forwarders = [Forwarder(pool, target, settings) for target in settings.targets]

    def start(self) -> None:
        for forwarder in self.forwarders:
            forwarder.loop.start()
        if self.forwarders:
            log.info("audit sinks forwarding", extra={"sinks": [f.target.name for f in self.forwarders]})

    async def stop(self) -> None:
        for forwarder in self.forwarders:
            await forwarder.close()
