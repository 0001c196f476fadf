"""Reading the log: filters, a keyset cursor on (time, id), newest first; CSV and JSONL rows.

The account filter is not optional for a caller: the route passes the principal's account (or,
for the super admin, the one asked for, or none for all) and every query has it in its WHERE.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from extensions.audit.entries import format_time
from extensions.errors import RequestError

__all__ = [
    "CSV_COLUMNS",
    "Filters",
    "by_id",
    "csv_line",
    "decode_cursor",
    "encode_cursor",
    "numbered_page",
    "page",
    "pages",
    "public",
]

MAX_LIMIT: Final = 500
CSV_COLUMNS: Final = (
    "time",
    "account_id",
    "seq",
    "id",
    "request_id",
    "outcome",
    "status_code",
    "method",
    "route",
    "action",
    "object_type",
    "object_ids",
    "actor_kind",
    "actor_id",
    "actor",
    "source_ip",
    "user_agent",
    "changes",
    "hash",
)


@dataclass(frozen=True, slots=True)
class Filters:
    account_id: str | None  # None: every account (the super admin only)
    actor: str | None = None  # user id, email, key alias or key hash prefix
    object_type: str | None = None
    object_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    verbs: tuple[str, ...] = ()  # the action's verb (``generate`` of ``key.generate``) is one of these
    search: str | None = None  # an entry id, actor or object id

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []

        def add(sql: str, value: Any) -> None:
            args.append(value)
            clauses.append(sql.replace("?", f"${len(args)}"))

        if self.account_id is not None:
            add("account_id = ?", self.account_id)
        if self.actor:
            add(
                "(actor_id = ? OR (actor::jsonb) ->> 'email' = ? OR (actor::jsonb) ->> 'key_alias' = ? "
                "OR (actor::jsonb) ->> 'key_hash_prefix' = ?)",
                self.actor,
            )
        if self.object_type:
            add("object_type = ?", self.object_type)
        if self.object_id:
            add("(object_ids::jsonb) @> jsonb_build_array(?::text)", self.object_id)
        if self.action:
            add("action = ?", self.action)
        if self.verbs:
            add("split_part(action, '.', 2) = ANY(?::text[])", list(self.verbs))
        if self.search:
            add(
                "(id = ? OR actor_id = ? OR (actor::jsonb) ->> 'email' = ? OR (actor::jsonb) ->> 'key_hash_prefix' = ? "
                "OR (object_ids::jsonb) @> jsonb_build_array(?::text))",
                self.search,
            )
        if self.since is not None:
            add("time >= ?", _naive(self.since))
        if self.until is not None:
            add("time < ?", _naive(self.until))
        return (" AND ".join(clauses) or "TRUE"), args


def _naive(moment: datetime) -> datetime:
    """The column is UTC without a zone; a time without a zone is taken as UTC."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def encode_cursor(row: Any) -> str:
    return base64.urlsafe_b64encode(f"{format_time(row['time'])}|{row['id']}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        when, _, entry_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ"), entry_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError("the cursor is not one this API returned", hint="pass next_cursor unchanged") from exc


async def page(conn: Any, filters: Filters, limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """Up to ``limit`` rows, newest first, and the cursor of the next page (None at the end)."""
    where, args = filters.where()
    if cursor is not None:
        when, entry_id = decode_cursor(cursor)
        args += [when, entry_id]
        where += f" AND (time, id) < (${len(args) - 1}, ${len(args)})"
    args.append(limit + 1)
    rows = await conn.fetch(
        f'SELECT * FROM "Atrium_AuditLog" WHERE {where} ORDER BY time DESC, id DESC LIMIT ${len(args)}', *args
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


async def numbered_page(
    conn: Any, filters: Filters, number: int, size: int, *, ascending: bool = False
) -> tuple[list[Any], int]:
    """Page ``number`` (from 1) of ``size`` rows by time, and the count of every matching row
    (LiteLLM's page/page_size pagination, which the admin UI uses)."""
    where, args = filters.where()
    total = int(await conn.fetchval(f'SELECT count(*) FROM "Atrium_AuditLog" WHERE {where}', *args))
    order = "ASC" if ascending else "DESC"
    args += [size, (number - 1) * size]
    rows = await conn.fetch(
        f'SELECT * FROM "Atrium_AuditLog" WHERE {where} ORDER BY time {order}, id {order} '
        f"LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return list(rows), total


async def by_id(conn: Any, account_id: str | None, entry_id: str) -> Any:
    """One entry of ``account_id``'s chain (None: of any chain, the super admin's view), or None."""
    if account_id is None:
        return await conn.fetchrow('SELECT * FROM "Atrium_AuditLog" WHERE id = $1', entry_id)
    return await conn.fetchrow(
        'SELECT * FROM "Atrium_AuditLog" WHERE id = $1 AND account_id = $2', entry_id, account_id
    )


async def pages(pool: Any, filters: Filters) -> AsyncIterator[Any]:
    """Every matching row, a page at a time (a connection is held per page, not for the export)."""
    cursor: str | None = None
    while True:
        async with pool.acquire() as conn:
            rows, cursor = await page(conn, filters, MAX_LIMIT, cursor)
        for row in rows:
            yield row
        if cursor is None:
            return


def public(row: Any) -> dict[str, Any]:
    """An entry as the API shows it (the JSON parts parsed)."""
    entry = {name: row[name] for name in CSV_COLUMNS}
    entry["time"] = format_time(row["time"])
    entry["seq"] = int(row["seq"])
    entry["prev_hash"] = row["prev_hash"]
    for name in ("actor", "object_ids", "changes"):
        entry[name] = json.loads(row[name])
    return entry


def csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()
