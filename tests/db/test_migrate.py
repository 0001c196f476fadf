"""scripts/deploy.sh migrate: idempotent, race-free, stops on the first broken migration."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import asyncpg
import pytest

from extensions.db.migrate import split_sql
from extensions.tenancy.data.tables import TABLES, TableClass

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = str(ROOT / "scripts" / "deploy.sh")
OURS = sorted(p.name for p in (ROOT / "prisma" / "migrations").iterdir() if p.is_dir())


def deploy_migrate(dsn: str, migrations_dir: Path | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": dsn}
    if migrations_dir is not None:
        env["ATRIUM_MIGRATIONS_DIR"] = str(migrations_dir)
    return subprocess.Popen([DEPLOY, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out + err


async def _fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def fetch(dsn: str, sql: str) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(dsn, sql))


SCHEMA_SNAPSHOT = """
SELECT table_name, column_name, data_type, is_nullable, column_default
FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2
"""
INDEX_SNAPSHOT = "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"


def snapshot(dsn: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return [tuple(r) for r in fetch(dsn, SCHEMA_SNAPSHOT)], [tuple(r) for r in fetch(dsn, INDEX_SNAPSHOT)]


def migration_rows(dsn: str) -> list[asyncpg.Record]:
    return fetch(
        dsn,
        "SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count, logs "
        'FROM "_prisma_migrations" ORDER BY migration_name',
    )


def shipped_count() -> int:
    from extensions.litellm import shipped_migrations_dir

    return sum(1 for p in shipped_migrations_dir().iterdir() if (p / "migration.sql").is_file())


def test_migrate_twice_on_empty_database(empty_database: str) -> None:
    code, output = finish(deploy_migrate(empty_database))
    assert code == 0, output
    first = snapshot(empty_database)
    code, output = finish(deploy_migrate(empty_database))
    assert code == 0, output
    assert "0 applied" in output
    assert snapshot(empty_database) == first
    rows = migration_rows(empty_database)
    assert len(rows) == shipped_count() + len(OURS)
    assert len({r["migration_name"] for r in rows}) == len(rows)
    assert all(r["finished_at"] is not None and r["applied_steps_count"] == 1 for r in rows)
    # Same form as Prisma: checksum is the sha256 of the file.
    assert all(len(r["checksum"]) == 64 for r in rows)


def test_migrate_concurrently_on_empty_database(empty_database: str) -> None:
    procs = [deploy_migrate(empty_database) for _ in range(2)]
    results = [finish(p) for p in procs]
    assert all(code == 0 for code, _ in results), results
    rows = migration_rows(empty_database)
    assert len(rows) == shipped_count() + len(OURS)
    assert len({r["migration_name"] for r in rows}) == len(rows)
    # Exactly one of the two runs applied the migrations.
    applied = sorted(re.search(r"(?<![0-9])0 applied", out) is not None for _, out in results)
    assert applied == [False, True]


def test_broken_migration_stops_with_name_and_error(empty_database: str, tmp_path: Path) -> None:
    ours = tmp_path / "migrations"
    shutil.copytree(ROOT / "prisma" / "migrations", ours)
    broken = ours / "29990101000000_broken"
    broken.mkdir()
    (broken / "migration.sql").write_text('ALTER TABLE "NoSuchTable" ADD COLUMN "x" TEXT;\n')
    after = ours / "29990102000000_after"
    after.mkdir()
    (after / "migration.sql").write_text('CREATE TABLE IF NOT EXISTS "Atrium_Never" ("account_id" TEXT);\n')

    code, output = finish(deploy_migrate(empty_database, ours))
    assert code == 2
    assert "29990101000000_broken" in output
    assert 'relation "NoSuchTable" does not exist' in output
    rows = {r["migration_name"]: r for r in migration_rows(empty_database)}
    assert rows[OURS[-1]]["finished_at"] is not None  # earlier ones stay applied
    assert rows["29990101000000_broken"]["finished_at"] is None
    assert "NoSuchTable" in rows["29990101000000_broken"]["logs"]
    assert "29990102000000_after" not in rows
    assert not fetch(empty_database, "SELECT 1 FROM pg_tables WHERE tablename = 'Atrium_Never'")

    # Fixed and re-run: the failed attempt is marked rolled back, the rest applies.
    (broken / "migration.sql").write_text('CREATE TABLE IF NOT EXISTS "Atrium_Fixed" ("account_id" TEXT);\n')
    code, output = finish(deploy_migrate(empty_database, ours))
    assert code == 0, output
    names = [r["migration_name"] for r in migration_rows(empty_database) if r["rolled_back_at"] is None]
    assert names.count("29990101000000_broken") == 1 and "29990102000000_after" in names


def test_every_tenant_table_has_account_id_column_and_index(database_url: str) -> None:
    columns = {
        r["table_name"]
        for r in fetch(
            database_url, "SELECT table_name FROM information_schema.columns WHERE column_name = 'account_id'"
        )
    }
    indexed = {
        r["tablename"]
        for r in fetch(database_url, "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%(account_id)%'")
    }
    for name, (kind, _) in TABLES.items():
        if kind is TableClass.TENANT:
            assert name in columns, name
            assert name in indexed, name


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';'; -- c;\nSELECT 2", ["SELECT ';'", "SELECT 2"]),
        ("DO $$ BEGIN PERFORM 1; END $$; SELECT 3;", ["DO $$ BEGIN PERFORM 1; END $$", "SELECT 3"]),
        ('CREATE INDEX CONCURRENTLY "a;b" ON t(x);', ['CREATE INDEX CONCURRENTLY "a;b" ON t(x)']),
    ],
)
def test_split_sql(script: str, expected: list[str]) -> None:
    assert split_sql(script) == expected
