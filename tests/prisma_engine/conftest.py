"""Fixtures: the generated prisma-client-py client, driven through the wasm engine.

The database is the session's freshly migrated one (``database_url`` from
tests/conftest.py). The engine is forced to the wasm launcher so these tests exercise
prisma/engine even on a machine that also has a native engine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from extensions.prisma_engine import ENGINE_DIR, ensure_node_modules


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


@pytest_asyncio.fixture(scope="session")
async def db(wasm_engine_env: None, database_url: str) -> AsyncIterator[Any]:
    client = _prisma_class()(datasource={"url": database_url})
    await client.connect()
    yield client
    await client.disconnect()


@pytest.fixture
def uid() -> str:
    """A prefix that keeps each test's rows apart in the shared session database."""
    return f"t{uuid.uuid4().hex[:12]}"
