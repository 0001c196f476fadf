"""Fixtures: the generated prisma-client-py client, driven through the wasm engine.

The client tests write rows no LiteLLM handler could (a team with only an id), so they run on a
database of their own, freshly migrated, never on the session's one the proxy serves from (such a
row made LiteLLM's own admin `/user/info` answer 500 for the rest of the session). The engine is
forced to the wasm launcher so these tests exercise prisma/engine even on a machine that also has
a native engine.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from extensions import litellm
from extensions.db.migrate import discover, migrate
from extensions.prisma_engine import ENGINE_DIR, ensure_node_modules
from extensions.testing.services import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wasm_engine_env() -> Iterator[None]:
    ensure_node_modules()
    saved = {k: os.environ.get(k) for k in ("PRISMA_QUERY_ENGINE_BINARY", "PRISMA_SCHEMA_ENGINE_BINARY")}
    os.environ["PRISMA_QUERY_ENGINE_BINARY"] = str(ENGINE_DIR / "bin" / "query-engine")
    os.environ["PRISMA_SCHEMA_ENGINE_BINARY"] = str(ENGINE_DIR / "bin" / "schema-engine")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _prisma_class() -> Any:
    try:
        from prisma import Prisma
    except RuntimeError as exc:  # raised by prisma/__init__ when nothing was generated
        pytest.fail(f"{exc}\nrun `python -m extensions.prisma_engine generate --schema schema.prisma`")
    return Prisma


@pytest.fixture(scope="session")
def engine_database_url(postgres: PostgresServer) -> Iterator[str]:
    dsn = postgres.create_database("engine_client")
    asyncio.run(migrate(dsn, discover(litellm.shipped_migrations_dir(), REPO_ROOT / "prisma" / "migrations")))
    yield dsn
    postgres.drop_database(dsn)


@pytest_asyncio.fixture(scope="session")
async def db(wasm_engine_env: None, engine_database_url: str) -> AsyncIterator[Any]:
    client = _prisma_class()(datasource={"url": engine_database_url})
    await client.connect()
    yield client
    await client.disconnect()


@pytest.fixture
def uid() -> str:
    """A prefix that keeps each test's rows apart in the shared session database."""
    return f"t{uuid.uuid4().hex[:12]}"
