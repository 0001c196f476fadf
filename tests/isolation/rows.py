"""An account's rows, read from the database: real id values to send, and rows to compare.

The tables come from ``extensions/tenancy/data/tables.py`` (generated, not listed here): every
TENANT table must carry ``account_id`` and is compared by the account's rows; every GLOBAL
table is tenant-read-only, so it is compared whole; SYSTEM tables (heartbeats, cron leases,
proxy-wide aggregates) change with no tenant traffic and have no tenant dimension, so they
are not compared. Atrium's own tables with an ``account_id`` column are compared like TENANT.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from extensions.tenancy.data.tables import TableClass, tables_of

__all__ = ["TOKEN", "USER", "Snapshot", "diff", "id_values", "settled", "snapshot", "target_of", "value_finder"]

Snapshot = dict[str, dict[str, str]]  # table -> row key -> the row as JSON text

_ID_COLUMN = re.compile(r"(^id$|_id$|^token$|_name$|_email$|^user_email$)")


async def _account_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'account_id' "
        "AND table_schema = current_schema()"
    )
    with_column = {r["table_name"] for r in rows}
    missing = [t for t in tables_of(TableClass.TENANT) if t not in with_column]
    if missing:
        raise AssertionError(f"TENANT tables without account_id (tables.py says they have one): {missing}")
    atrium = sorted(t for t in with_column if t.startswith("Atrium_"))
    return [*tables_of(TableClass.TENANT), *atrium]


async def _primary_key(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY a.attnum",
        f'"{table}"',
    )
    return [r["attname"] for r in rows]


async def _rows(conn: asyncpg.Connection, table: str, where: str, *args: object) -> dict[str, str]:
    key = await _primary_key(conn, table)
    key_sql = " || '|' || ".join(f"coalesce(t.\"{c}\"::text, '')" for c in key) if key else "md5(to_jsonb(t)::text)"
    rows = await conn.fetch(
        f'SELECT {key_sql} AS k, to_jsonb(t)::text AS h FROM "{table}" t {where}',
        *args,
    )
    found: dict[str, str] = {}
    for row in rows:
        # Rows without a primary key are keyed by their hash; duplicates are counted apart.
        name = row["k"] if row["k"] not in found else f"{row['k']}#{len(found)}"
        found[name] = row["h"]
    return found


async def snapshot(dsn: str, account_id: str) -> Snapshot:
    """The account's rows of every tenant table, and every row of every global table."""
    conn = await asyncpg.connect(dsn)
    try:
        out: Snapshot = {}
        for table in await _account_tables(conn):
            out[table] = await _rows(conn, table, "WHERE account_id = $1", account_id)
        for table in tables_of(TableClass.GLOBAL):
            out[table] = await _rows(conn, table, "")
        return out
    finally:
        await conn.close()


def diff(before: Snapshot, after: Snapshot) -> list[str]:
    """Created, deleted and changed rows, by table and row key."""
    changes: list[str] = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        changes += [f"{table}: created {k}: {new[k][:600]}" for k in sorted(new.keys() - old.keys())]
        changes += [f"{table}: deleted {k}: {old[k][:600]}" for k in sorted(old.keys() - new.keys())]
        changes += [
            f"{table}: changed {k}: {_changed(old[k], new[k])}"
            for k in sorted(old.keys() & new.keys())
            if old[k] != new[k]
        ]
    return changes


def _changed(old: str, new: str) -> str:
    before, after = json.loads(old), json.loads(new)
    return ", ".join(
        f"{c}: {before.get(c)!r} -> {after.get(c)!r}" for c in sorted(after) if before.get(c) != after.get(c)
    )


async def id_values(dsn: str, account_id: str, *, public: bool = False) -> dict[tuple[str, str], str]:
    """(table, column) -> one value of the account, for every id-like column of its rows.

    Atrium stores some names as ``<account_id>/<name>`` (credentials, models, end users);
    ``public`` gives the name the account's own clients use, else the stored form.
    """
    conn = await asyncpg.connect(dsn)
    try:
        found: dict[tuple[str, str], str] = {}
        for table in await _account_tables(conn):
            columns = await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
                "AND table_schema = current_schema() AND data_type IN ('text', 'character varying')",
                table,
            )
            for (column,) in columns:
                if column == "account_id" or not _ID_COLUMN.search(column):
                    continue
                value = await conn.fetchval(
                    f'SELECT "{column}" FROM "{table}" WHERE account_id = $1 AND coalesce("{column}", \'\') <> \'\' '
                    f'ORDER BY "{column}" LIMIT 1',
                    account_id,
                )
                if value is not None:
                    text = str(value)
                    found[(table, column)] = text.removeprefix(f"{account_id}/") if public else text
        return found
    finally:
        await conn.close()


# Parameter names that are not the column they name, and the (table, column) they mean; by route
# prefix where one name means different objects. Stated here, checked by the sweep's coverage test.
ALIASES: dict[str, tuple[str, str]] = {
    "key": ("LiteLLM_VerificationToken", "token"),
    "keys": ("LiteLLM_VerificationToken", "token"),
    "api_key": ("LiteLLM_VerificationToken", "token"),
    "key_hash": ("LiteLLM_VerificationToken", "token"),
    "hashed_token": ("LiteLLM_VerificationToken", "token"),
    "token": ("LiteLLM_VerificationToken", "token"),
    "user": ("LiteLLM_EndUserTable", "user_id"),
    "end_user": ("LiteLLM_EndUserTable", "user_id"),
    "end_user_id": ("LiteLLM_EndUserTable", "user_id"),
    "customer_id": ("LiteLLM_EndUserTable", "user_id"),
    "email": ("LiteLLM_UserTable", "user_email"),
    "user_email": ("LiteLLM_UserTable", "user_email"),
    "user_ids": ("LiteLLM_UserTable", "user_id"),
    "team_ids": ("LiteLLM_TeamTable", "team_id"),
    "team": ("LiteLLM_TeamTable", "team_id"),
    "teams": ("LiteLLM_TeamTable", "team_id"),
    "tag": ("LiteLLM_TagTable", "tag_name"),
    "tags": ("LiteLLM_TagTable", "tag_name"),
    "names": ("LiteLLM_TagTable", "tag_name"),
    "model": ("LiteLLM_ProxyModelTable", "model_name"),
    "model_name": ("LiteLLM_ProxyModelTable", "model_name"),
    "invite_link": ("LiteLLM_InvitationLink", "id"),
    "invitation_link": ("LiteLLM_InvitationLink", "id"),
    "invitation_id": ("LiteLLM_InvitationLink", "id"),
}
BY_PREFIX: dict[str, dict[str, tuple[str, str]]] = {
    "/credentials": {
        "name": ("LiteLLM_CredentialsTable", "credential_name"),
        "credential_name": ("LiteLLM_CredentialsTable", "credential_name"),
        "model_id": ("LiteLLM_ProxyModelTable", "model_id"),
    },
    "/customer": {
        "user_id": ("LiteLLM_EndUserTable", "user_id"),
        "user_ids": ("LiteLLM_EndUserTable", "user_id"),
    },
    "/end_user": {
        "user_id": ("LiteLLM_EndUserTable", "user_id"),
        "user_ids": ("LiteLLM_EndUserTable", "user_id"),
    },
    "/v1/memory": {"key": ("LiteLLM_MemoryTable", "key")},
    "/audit": {"id": ("LiteLLM_AuditLog", "id")},
    # OpenAI's /models/{model} names a model, whatever the parameter is called.
    "/models": {"model_id": ("LiteLLM_ProxyModelTable", "model_name")},
    "/v1/models": {"model_id": ("LiteLLM_ProxyModelTable", "model_name")},
    "/model": {"id": ("LiteLLM_ProxyModelTable", "model_id")},
    "/v1/model": {"id": ("LiteLLM_ProxyModelTable", "model_id")},
    "/v2/model": {"id": ("LiteLLM_ProxyModelTable", "model_id")},
    "/invitation": {"id": ("LiteLLM_InvitationLink", "id")},
    "/budget": {"id": ("LiteLLM_BudgetTable", "budget_id")},
}
# Where a column lives in several tables, the one that owns it (its primary key).
OWNERS: dict[str, str] = {
    "user_id": "LiteLLM_UserTable",
    "team_id": "LiteLLM_TeamTable",
    "budget_id": "LiteLLM_BudgetTable",
    "model_id": "LiteLLM_ProxyModelTable",
    "organization_id": "LiteLLM_OrganizationTable",
    "request_id": "LiteLLM_SpendLogs",
    "credential_name": "LiteLLM_CredentialsTable",
    "project_id": "LiteLLM_ProjectTable",
    "agent_id": "LiteLLM_AgentsTable",
    "access_group_id": "LiteLLM_AccessGroupTable",
    "object_permission_id": "LiteLLM_ObjectPermissionTable",
}


TOKEN = ("LiteLLM_VerificationToken", "token")
USER = ("LiteLLM_UserTable", "user_id")


def target_of(template: str, name: str) -> tuple[str, str] | None:
    """The (table, column) a parameter names; the table is "" for a column found in any table."""
    for prefix, names in BY_PREFIX.items():
        if (template == prefix or template.startswith(prefix + "/")) and name in names:
            return names[name]
    if name in ALIASES:
        return ALIASES[name]
    column = name[:-1] if name.endswith("_ids") else name
    return (OWNERS.get(column, ""), column)


def value_finder(
    values: dict[tuple[str, str], str], overrides: dict[tuple[str, str], str] | None = None
) -> Callable[[str, str], str | None]:
    """``(template, parameter) -> value or None`` over ``id_values``' answer; ``overrides`` per target."""
    by_column: dict[str, str] = {}
    for (table, column), value in sorted(values.items()):
        if OWNERS.get(column, table) == table:
            by_column.setdefault(column, value)

    def value_of(template: str, name: str) -> str | None:
        target = target_of(template, name)
        if target is None:
            return None
        if overrides and target in overrides:
            return overrides[target]
        table, column = target
        return values.get(target) if table else by_column.get(column)

    return value_of


QUIET_S = 12.0  # longer than LiteLLM's spend batch interval (PROXY_BATCH_WRITE_AT, 10 s)


def settled(take: Callable[[], Mapping[str, Any]], *, what: str) -> Any:
    """``take()`` once the account's own set-up traffic is billed: spend is written asynchronously,
    the per-tag daily rows last, by a batch job every 10 s, so the rows must first exist and then
    stay unchanged for longer than that."""
    deadline = time.monotonic() + 60
    previous = take()
    while not previous.get("LiteLLM_DailyTagSpend") and time.monotonic() < deadline:
        time.sleep(1)
        previous = take()
    quiet_since = time.monotonic()
    for _ in range(60):
        time.sleep(2)
        current = take()
        if current != previous:
            previous, quiet_since = current, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_S:
            return current
    raise AssertionError(f"{what} kept changing with no traffic")
