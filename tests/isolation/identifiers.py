"""Another account's identifiers, read from its rows in the database (the source of truth).

Every table with an ``account_id`` column is read (LiteLLM's tenant tables and Atrium's own);
every string in the account's rows (JSON columns walked) that appears in no row outside the
account is an identifier of it: ids, names, aliases, emails, key hashes and abbreviations,
credential names, api_bases, customer ids.
Strings shared with other accounts or with global rows (role names, model names everyone may
use, defaults) are not identifying, so they are left out by construction rather than by a list.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import asyncpg

__all__ = ["account_identifiers", "found_in"]

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d([T ][\d:.+\-Z]*)?$")
_NUMBER = re.compile(r"^[\d.\-eE+]+$")
_MIN_LENGTH = 6


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        # JSON text stored in a string column (metadata, litellm_params) holds identifiers too.
        if value[:1] in "{[":
            try:
                yield from _strings(json.loads(value))
            except ValueError:
                pass
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item)
            yield str(key) if len(str(key)) >= 16 else ""
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@functools.cache
def _route_paths() -> frozenset[str]:
    """The proxy's own route paths: LiteLLM tags each request's spend with its route (a row of the
    account that no other account may have yet), and every OpenAPI document lists them."""
    from extensions.app import served_routes

    return frozenset(route.path for route in served_routes(include_lazy=True))


def _identifying(value: str) -> bool:
    text = value.strip()
    return (
        len(text) >= _MIN_LENGTH
        and not _TIMESTAMP.match(text)
        and not _NUMBER.match(text)
        and text not in _route_paths()
    )


async def _table_strings(conn: asyncpg.Connection, table: str, account_id: str, *, inside: bool) -> set[str]:
    where = "account_id = $1" if inside else "account_id IS DISTINCT FROM $1"
    try:
        rows = await conn.fetch(f'SELECT to_jsonb(t) AS j FROM "{table}" t WHERE {where}', account_id)
    except asyncpg.PostgresError:
        return set()
    found: set[str] = set()
    for row in rows:
        found.update(s for s in _strings(json.loads(row["j"])) if s)
    return found


async def account_identifiers(dsn: str, account_id: str) -> dict[str, str]:
    """Identifier -> the table it was read from, for every identifying string of the account."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'account_id' "
            "AND table_schema = current_schema() ORDER BY table_name"
        )
        mine: dict[str, str] = {}
        others: set[str] = set()
        for (table,) in tables:
            for value in await _table_strings(conn, table, account_id, inside=True):
                mine.setdefault(value, table)
            others |= await _table_strings(conn, table, account_id, inside=False)
    finally:
        await conn.close()
    return {value: table for value, table in mine.items() if value not in others and _identifying(value)}


def found_in(text: str, identifiers: dict[str, str], sent: str) -> list[str]:
    """The identifiers in ``text`` that the caller did not send itself."""
    return sorted(f"{value} ({table})" for value, table in identifiers.items() if value in text and value not in sent)
