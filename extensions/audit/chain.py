"""Each account's entries form a hash chain: ``hash = sha256(prev_hash || canonical(entry))``.

Appends of one account serialize on its head row (``Atrium_AuditHead``, ``SELECT ... FOR
UPDATE``): two workers, or two replicas, never give two entries the same ``seq`` nor fork the
chain. The head also keeps the pruning checkpoint (seq and hash of the last pruned entry), so a
pruned log still verifies from a known point.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from extensions.audit.entries import AuditEntry, canonical, format_time

__all__ = ["GENESIS", "HASHED_COLUMNS", "append", "entry_hash", "hashed_fields"]

GENESIS: Final = ""  # prev_hash of an account's first entry

# The columns the hash commits to (all but id, prev_hash and hash; the id is in the hash too, so
# swapping two entries' ids is an alteration).
HASHED_COLUMNS: Final = (
    "id",
    "account_id",
    "seq",
    "time",
    "request_id",
    "actor_kind",
    "actor_id",
    "actor",
    "source_ip",
    "user_agent",
    "method",
    "route",
    "action",
    "object_type",
    "object_ids",
    "changes",
    "outcome",
    "status_code",
)

_LOCK_HEAD: Final = """
INSERT INTO "Atrium_AuditHead" (account_id) VALUES ($1) ON CONFLICT (account_id) DO NOTHING
"""
_READ_HEAD: Final = 'SELECT seq, hash FROM "Atrium_AuditHead" WHERE account_id = $1 FOR UPDATE'
_INSERT: Final = f"""
INSERT INTO "Atrium_AuditLog" ({", ".join(HASHED_COLUMNS)}, prev_hash, hash)
VALUES ({", ".join(f"${i}" for i in range(1, len(HASHED_COLUMNS) + 3))})
"""
_MOVE_HEAD: Final = 'UPDATE "Atrium_AuditHead" SET seq = $2, hash = $3, updated_at = now() WHERE account_id = $1'


def hashed_fields(row: Any) -> dict[str, Any]:
    """The hashed part of a stored row (an asyncpg record or a dict), in canonical value types."""
    fields = {name: row[name] for name in HASHED_COLUMNS}
    fields["seq"] = int(fields["seq"])
    fields["status_code"] = int(fields["status_code"])
    if isinstance(fields["time"], datetime):
        fields["time"] = format_time(fields["time"])
    return fields


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(fields).encode()).hexdigest()


async def append(conn: Any, entry: AuditEntry, *, lock: bool = True) -> dict[str, Any]:
    """Chain and insert ``entry`` on ``conn``, in its own transaction; the stored row's fields.

    ``lock=False`` exists only for the test that shows what the lock prevents.
    """
    async with conn.transaction():
        await conn.execute(_LOCK_HEAD, entry.account_id)
        head = await conn.fetchrow(_READ_HEAD if lock else _READ_HEAD.replace(" FOR UPDATE", ""), entry.account_id)
        # The time is taken under the lock, so an account's entries are in time order too (pruning by age
        # removes a prefix of the chain).
        now = datetime.now(UTC).replace(tzinfo=None)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        fields: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "account_id": entry.account_id,
            "seq": int(head["seq"]) + 1,
            "time": format_time(now),
            "request_id": entry.request_id,
            "actor_kind": entry.actor.kind,
            "actor_id": entry.actor.actor_id,
            "actor": canonical(entry.actor.as_dict()),
            "source_ip": entry.source_ip,
            "user_agent": (entry.user_agent or "")[:512] or None,
            "method": entry.method,
            "route": entry.route,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_ids": canonical(list(entry.object_ids)),
            "changes": entry.stored_changes(),
            "outcome": entry.outcome,
            "status_code": entry.status_code,
        }
        prev_hash: str = head["hash"]
        digest = entry_hash(prev_hash, fields)
        values = [fields[name] for name in HASHED_COLUMNS]
        values[HASHED_COLUMNS.index("time")] = now
        await conn.execute(_INSERT, *values, prev_hash, digest)
        await conn.execute(_MOVE_HEAD, entry.account_id, fields["seq"], digest)
    return {**fields, "prev_hash": prev_hash, "hash": digest}
