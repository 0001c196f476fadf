"""The usage analytics indexes: created by a re-runnable migration, and described by schema.prisma."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from extensions.db.migrate import Migration, split_sql
from extensions.db.schema_sync import ACCOUNT_INDEXES

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = Migration(
    "20261126000000_atrium_usage_indexes",
    ROOT / "prisma" / "migrations" / "20261126000000_atrium_usage_indexes" / "migration.sql",
)
# Prisma's default name for @@index([account_id, <column>]) on <table>: the migration uses it.
NAMES = {f"{table}_account_id_{'_'.join(columns)}_idx": table for table, columns in ACCOUNT_INDEXES.items()}


async def _apply(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in split_sql(MIGRATION.sql):
            await conn.execute(statement)
    finally:
        await conn.close()


async def _indexes(dsn: str) -> dict[str, tuple[str, bool]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) AS def, i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY($1::text[])",
            list(NAMES),
        )
        return {r["relname"]: (r["def"], r["indisvalid"]) for r in rows}
    finally:
        await conn.close()


async def _invalidate(dsn: str, name: str) -> None:
    """What a failed CREATE INDEX CONCURRENTLY leaves behind: the index, marked invalid."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass", f'"{name}"')
    finally:
        await conn.close()


def test_the_migration_is_concurrent_and_names_every_index() -> None:
    assert not MIGRATION.transactional, "CONCURRENTLY: spend writers keep writing while it runs"
    for name, table in NAMES.items():
        assert f'IF NOT EXISTS "{name}"' in MIGRATION.sql and f'ON "{table}"' in MIGRATION.sql


def test_indexes_exist_after_migrating_and_applying_again_changes_nothing(database_url: str) -> None:
    first = asyncio.run(_indexes(database_url))
    assert set(first) == set(NAMES), "the session database is migrated with every index"
    for name, table in NAMES.items():
        definition, valid = first[name]
        assert valid and f'ON public."{table}"' in definition
        assert definition.endswith(f"(account_id, {ACCOUNT_INDEXES[table][0]})") or definition.endswith(
            f'(account_id, "{ACCOUNT_INDEXES[table][0]}")'
        ), definition
    asyncio.run(_apply(database_url))
    asyncio.run(_apply(database_url))
    assert asyncio.run(_indexes(database_url)) == first


def test_an_index_a_failed_run_left_invalid_is_rebuilt(database_url: str) -> None:
    name = "LiteLLM_DailyTagSpend_account_id_date_idx"
    asyncio.run(_invalidate(database_url, name))
    assert asyncio.run(_indexes(database_url))[name][1] is False
    asyncio.run(_apply(database_url))
    assert asyncio.run(_indexes(database_url))[name][1] is True
