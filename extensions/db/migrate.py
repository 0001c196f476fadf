"""Apply LiteLLM's shipped migrations, then Atrium's, without Prisma's schema engine.

Rows go into ``_prisma_migrations`` exactly as ``prisma migrate deploy`` writes them
(id, sha256 checksum of the file, started/finished timestamps, one applied step), so a
later ``prisma migrate deploy`` with the native engine agrees with what is applied.
The run holds Prisma's own advisory lock (72707369): two replicas starting at once, or
this migrator and a real ``prisma migrate deploy``, serialise instead of racing.

A migration runs in one transaction, except scripts that use ``CONCURRENTLY`` (not
allowed in a transaction block): their statements run one by one. The first failure
stops the run with the migration's name and PostgreSQL's message; earlier migrations
stay applied, and the failed attempt is recorded the way Prisma records one. A re-run
marks that attempt rolled back and tries again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from extensions.errors import ConfigurationError, MigrationError
from extensions.prisma_engine import resolve_data

__all__ = [
    "PRISMA_ADVISORY_LOCK",
    "Migration",
    "MigrationReport",
    "atrium_migrations_dir",
    "discover",
    "migrate",
    "split_sql",
]

log = logging.getLogger("atrium.migrate")

PRISMA_ADVISORY_LOCK = 72707369

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class Migration:
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def transactional(self) -> bool:
        return re.search(r"\bCONCURRENTLY\b", self.sql, re.IGNORECASE) is None


@dataclass
class MigrationReport:
    applied: list[str]
    skipped: int


def atrium_migrations_dir() -> Path:
    """Atrium's own migrations: env ``ATRIUM_MIGRATIONS_DIR``, else the wheel's copy, else the checkout's."""
    return resolve_data("ATRIUM_MIGRATIONS_DIR", "migrations", "prisma/migrations")


def discover(*directories: Path) -> list[Migration]:
    """Migrations of each directory in name order; directories in the order given."""
    found: list[Migration] = []
    for directory in directories:
        if not directory.is_dir():
            # A wrong path must not read as "nothing to apply", nor end in a bare FileNotFoundError.
            raise ConfigurationError(
                f"migrations folder {directory} does not exist",
                hint="set ATRIUM_MIGRATIONS_DIR to Atrium's prisma/migrations, or reinstall the package",
            )
        for folder in sorted(p for p in directory.iterdir() if (p / "migration.sql").is_file()):
            found.append(Migration(folder.name, folder / "migration.sql"))
    return found


def split_sql(script: str) -> list[str]:
    """Split a script into statements, respecting quotes, dollar quotes and comments."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(script)
    while i < n:
        ch = script[i]
        if script.startswith("--", i):
            end = script.find("\n", i)
            i = n if end == -1 else end + 1
            continue
        if script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        if ch in ("'", '"'):
            end = i + 1
            while end < n and script[end] != ch:
                end += 1
            current.append(script[i : end + 1])
            i = end + 1
            continue
        dollar = re.match(r"\$[A-Za-z_0-9]*\$", script[i:])
        if dollar:
            tag = dollar.group(0)
            end = script.find(tag, i + len(tag))
            end = n if end == -1 else end + len(tag)
            current.append(script[i:end])
            i = end
            continue
        if ch == ";":
            statement = "".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
        else:
            current.append(ch)
        i += 1
    tail = "".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


async def _applied(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL'
    )
    return {row["migration_name"] for row in rows}


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    await conn.execute(
        'UPDATE "_prisma_migrations" SET rolled_back_at = now() '
        "WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL",
        migration.name,
    )
    row_id = str(uuid.uuid4())
    await conn.execute(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) '
        "VALUES ($1, $2, $3, now(), 0)",
        row_id,
        migration.checksum,
        migration.name,
    )
    try:
        if migration.transactional:
            async with conn.transaction():
                await conn.execute(migration.sql)
        else:
            for statement in split_sql(migration.sql):
                await conn.execute(statement)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        await conn.execute('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', row_id, str(exc))
        raise MigrationError(migration.name, f"{type(exc).__name__}: {exc}") from exc
    await conn.execute(
        'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', row_id
    )


async def _acquire_lock(conn: asyncpg.Connection, wait_limit_s: float) -> None:
    # Poll instead of blocking in pg_advisory_lock: a session blocked in that call holds a
    # virtual transaction, and `CREATE INDEX CONCURRENTLY` in the lock holder waits for it
    # to end, which PostgreSQL reports as a deadlock.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_limit_s
    while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", PRISMA_ADVISORY_LOCK):
        if loop.time() > deadline:
            raise MigrationError(
                "(lock)",
                f"another migration held the advisory lock {PRISMA_ADVISORY_LOCK} for over {wait_limit_s:.0f}s",
            )
        await asyncio.sleep(0.25)


async def migrate(
    dsn: str, migrations: Sequence[Migration] | Iterable[Migration], *, lock_timeout: float = 600.0
) -> MigrationReport:
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        await _acquire_lock(conn, lock_timeout)
        try:
            await conn.execute(_CREATE_TABLE)
            done = await _applied(conn)
            report = MigrationReport(applied=[], skipped=0)
            for migration in migrations:
                if migration.name in done:
                    report.skipped += 1
                    continue
                log.debug("applying migration %s", migration.name)
                await _apply(conn, migration)
                report.applied.append(migration.name)
            return report
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", PRISMA_ADVISORY_LOCK)
    finally:
        await conn.close()
