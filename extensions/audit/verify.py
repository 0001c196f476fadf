"""Verifying the chains: the first altered, inserted or deleted entry of each account.

Walks an account's entries by ``seq`` from the pruning checkpoint in its head row and recomputes
each hash. An entry whose content no longer gives its hash is *altered*; an entry that does not
commit to the one before it, or a second entry with a taken ``seq``, is *inserted*; a gap in
``seq`` (or a head that names a later entry than the last one left) is a *deletion*. The head row
is what the log is checked against: someone who can rewrite every later entry and the head can
rewrite history, which anchors (``anchors.py``, ``verify --anchors``) and sinks are there to catch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Final

from extensions.audit.chain import entry_hash, hashed_fields

__all__ = ["Problem", "verify_account", "verify_all"]

_ROWS: Final = 'SELECT * FROM "Atrium_AuditLog" WHERE account_id = $1 ORDER BY seq, time, id'
_HEAD: Final = 'SELECT seq, hash, pruned_seq, pruned_hash FROM "Atrium_AuditHead" WHERE account_id = $1'
_ACCOUNTS: Final = """
SELECT account_id FROM "Atrium_AuditHead" UNION SELECT DISTINCT account_id FROM "Atrium_AuditLog" ORDER BY 1
"""


@dataclass(frozen=True, slots=True)
class Problem:
    account_id: str
    kind: str  # altered | inserted | deleted
    seq: int
    entry_id: str | None
    detail: str

    def __str__(self) -> str:
        chain = self.account_id or "(global)"
        entry = f"entry {self.entry_id} " if self.entry_id else ""
        return f"account {chain}: {self.kind}: {entry}at seq {self.seq}: {self.detail}"


def _fits(row: Any, prev: str) -> bool:
    return bool(row["prev_hash"] == prev and entry_hash(row["prev_hash"], hashed_fields(row)) == row["hash"])


def _walk(account_id: str, rows: Sequence[Any], head: Any) -> Problem | None:
    expected = int(head["pruned_seq"]) + 1 if head is not None else 1
    prev: str = head["pruned_hash"] if head is not None else ""
    groups = [list(group) for _, group in groupby(rows, key=lambda r: int(r["seq"]))]
    for index, group in enumerate(groups):
        seq = int(group[0]["seq"])
        if seq > expected:
            return Problem(account_id, "deleted", expected, None, f"seq {expected}..{seq - 1} missing before {seq}")
        if seq < expected:  # below the checkpoint: an entry added under the pruned part
            return Problem(account_id, "inserted", seq, group[0]["id"], "below the pruning checkpoint")
        # Of several entries with one seq, the real one is what the next entry (or the head) commits to.
        following = groups[index + 1][0]["prev_hash"] if index + 1 < len(groups) else (head or {}).get("hash")
        fitting = [row for row in group if _fits(row, prev)]
        real = next((row for row in fitting if row["hash"] == following), fitting[0] if fitting else None)
        if real is None:
            row = group[0]
            if entry_hash(row["prev_hash"], hashed_fields(row)) != row["hash"]:
                return Problem(account_id, "altered", seq, row["id"], "its content does not give its hash")
            return Problem(account_id, "inserted", seq, row["id"], "it does not commit to the entry before it")
        extra = [row for row in group if row is not real]
        if extra:
            return Problem(account_id, "inserted", seq, extra[0]["id"], "a second entry with this seq")
        prev = real["hash"]
        expected = seq + 1
    if head is not None and int(head["seq"]) >= expected:
        return Problem(account_id, "deleted", expected, None, f"the head names seq {head['seq']}, the log ends before")
    if head is not None and int(head["seq"]) == expected - 1 and head["hash"] != prev:
        return Problem(account_id, "altered", expected - 1, None, "the last entry is not the one the head names")
    return None


async def verify_account(conn: Any, account_id: str) -> Problem | None:
    """The first problem of ``account_id``'s chain, or None when it is intact."""
    head = await conn.fetchrow(_HEAD, account_id)
    rows = await conn.fetch(_ROWS, account_id)
    return _walk(account_id, rows, dict(head) if head is not None else None)


async def verify_all(conn: Any, account_id: str | None = None) -> tuple[int, list[Problem]]:
    """(chains checked, the first problem of each broken chain)."""
    accounts = [account_id] if account_id is not None else [r["account_id"] for r in await conn.fetch(_ACCOUNTS)]
    problems = [found for account in accounts if (found := await verify_account(conn, account)) is not None]
    return len(accounts), problems
