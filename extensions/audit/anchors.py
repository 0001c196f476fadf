"""Anchoring: each chain's head, now and then, written somewhere the database's owner cannot rewrite.

The chain detects any change that leaves the head row alone; someone who rewrites an entry, every
later hash *and* the head passes ``atrium audit verify``. An anchor is a line ``{"account_id",
"seq", "hash", "time", "anchored_at"}`` appended to a JSONL file (``ATRIUM_AUDIT_ANCHOR_FILE``; put
it on append-only or shipped storage), and ``atrium audit verify --anchors FILE`` checks that each
anchored entry still has its anchored hash: a full rewrite at or before an anchor is named.

Once across replicas: the step takes an advisory lock, and a chain is anchored again only when
its head moved and its last anchor (``Atrium_AuditSinkCursor``, sink ``anchor``) is older than
the interval. A crash between the file and the cursor writes a line twice: harmless.

Sinks anchor too: every forwarded record carries its ``seq`` and ``hash``, so a receiver's copy
(exported as JSONL) is itself an anchors file, one anchor per entry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from extensions.audit.entries import format_time
from extensions.audit.sink_config import SinkSettings
from extensions.audit.sinks import LOCK_CLASS, advance, lock_key
from extensions.audit.verify import Problem
from extensions.background import Loop
from extensions.errors import ConfigurationError

__all__ = ["ANCHOR_SINK", "Anchoring", "anchor_once", "check_anchors", "read_anchors"]

log = logging.getLogger("atrium.audit.anchors")

ANCHOR_SINK: Final = "anchor"
_DUE: Final = """
SELECT h.account_id, h.seq, h.hash, l.time
FROM "Atrium_AuditHead" h
LEFT JOIN "Atrium_AuditSinkCursor" c ON c.sink = $1 AND c.account_id = h.account_id
LEFT JOIN LATERAL (
    SELECT time FROM "Atrium_AuditLog" WHERE account_id = h.account_id AND seq = h.seq AND hash = h.hash LIMIT 1
) l ON true
WHERE h.seq > COALESCE(c.seq, 0) AND (c.updated_at IS NULL OR c.updated_at <= now() - make_interval(secs => $2))
ORDER BY h.account_id
"""
_AT: Final = 'SELECT id, hash FROM "Atrium_AuditLog" WHERE account_id = $1 AND seq = $2'
_CHECKPOINT: Final = 'SELECT pruned_seq, pruned_hash FROM "Atrium_AuditHead" WHERE account_id = $1'


def _append(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(lines))
        out.flush()
        os.fsync(out.fileno())  # the cursor moves only once the anchors are on disk


async def anchor_once(conn: Any, path: Path, interval_s: float) -> int:
    """Anchor every chain that is due (if this connection gets the job's lock); chains anchored."""
    key = lock_key(ANCHOR_SINK)
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, key):
        return 0
    try:
        due = await conn.fetch(_DUE, ANCHOR_SINK, float(interval_s))
        if not due:
            return 0
        now = format_time(datetime.now(UTC))
        lines = [
            json.dumps(
                {
                    "account_id": row["account_id"],
                    "seq": int(row["seq"]),
                    "hash": row["hash"],
                    "time": format_time(row["time"]) if row["time"] is not None else None,
                    "anchored_at": now,
                },
                sort_keys=True,
            )
            + "\n"
            for row in due
        ]
        await asyncio.to_thread(_append, path, lines)
        await advance(conn, ANCHOR_SINK, {row["account_id"]: (int(row["seq"]), row["hash"]) for row in due})
        return len(due)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, key)


class Anchoring:
    """The anchoring loop of one worker."""

    def __init__(self, pool: Any, settings: SinkSettings) -> None:
        assert settings.anchor_file is not None
        self.pool = pool
        self.path = settings.anchor_file
        self.interval_s = settings.anchor_interval_s
        # Ticks more often than the interval so that, across replicas, a chain is anchored close to it.
        self.loop = Loop("atrium-audit-anchor", self._step, min(self.interval_s, 60.0), log)

    async def _step(self) -> None:
        async with self.pool.acquire() as conn:
            anchored = await anchor_once(conn, self.path, self.interval_s)
        if anchored:
            log.info("audit chains anchored", extra={"chains": anchored})

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()


def read_anchors(path: Path, account_id: str | None = None) -> list[tuple[str, int, str]]:
    """(account_id, seq, hash) of every line of an anchors file (or a sink's JSONL export)."""
    found: list[tuple[str, int, str]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError("the anchors file cannot be read", hint=f"check {path}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            anchor = (str(item["account_id"]), int(item["seq"]), str(item["hash"]))
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigurationError(
                f"line {number} of the anchors file is not an anchor",
                hint="each line is a JSON object with account_id, seq and hash",
            ) from exc
        if account_id is None or anchor[0] == account_id:
            found.append(anchor)
    return found


async def check_anchors(conn: Any, anchors: Iterable[tuple[str, int, str]]) -> tuple[int, int, list[Problem]]:
    """(anchors checked, anchors below the pruning checkpoint, the first broken anchor of each chain)."""
    checked = skipped = 0
    problems: dict[str, Problem] = {}
    last_good: dict[str, int] = {}
    for account, seq, digest in sorted(set(anchors), key=lambda a: (a[0], a[1])):
        if account in problems:
            continue
        rows = await conn.fetch(_AT, account, seq)
        checkpoint = await conn.fetchrow(_CHECKPOINT, account)
        pruned_seq = int(checkpoint["pruned_seq"]) if checkpoint is not None else 0
        if not rows and seq < pruned_seq:
            skipped += 1  # pruned: the chain no longer holds it, nothing to compare
            continue
        checked += 1
        at_checkpoint = not rows and checkpoint is not None and seq == pruned_seq
        if any(row["hash"] == digest for row in rows) or (at_checkpoint and checkpoint["pruned_hash"] == digest):
            last_good[account] = seq
            continue
        since = (
            f"after seq {last_good[account]}, the last anchor that holds" if account in last_good else "at or before it"
        )
        if rows or at_checkpoint:
            detail = f"its hash is not the anchored {digest[:16]}...: history was rewritten {since}"
            problems[account] = Problem(account, "rewritten", seq, rows[0]["id"] if rows else None, detail)
        else:
            problems[account] = Problem(account, "deleted", seq, None, f"the anchored entry is gone ({since})")
    return checked, skipped, list(problems.values())
