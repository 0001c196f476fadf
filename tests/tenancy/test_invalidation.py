"""Invalidation messages reach other processes' listeners over PostgreSQL and over Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from extensions.tenancy.accounts.invalidation import PostgresBus, RedisBus


async def _roundtrip(publisher: Any, listener: Any) -> dict[str, Any]:
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(message: dict[str, Any]) -> None:
        await received.put(message)

    await listener.start(handler)
    try:
        await asyncio.sleep(0.2)  # subscription established
        await publisher.publish({"kind": "account", "id": "acct-1"})
        return await asyncio.wait_for(received.get(), timeout=5)
    finally:
        await listener.stop()


async def test_postgres_bus_delivers(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        message = await _roundtrip(PostgresBus(database_url, pool), PostgresBus(database_url, pool))
        assert message == {"kind": "account", "id": "acct-1"}
    finally:
        await pool.close()


async def test_redis_bus_delivers(redis_url: str) -> None:
    publisher = RedisBus(redis_url)
    try:
        message = await _roundtrip(publisher, RedisBus(redis_url))
        assert message == {"kind": "account", "id": "acct-1"}
    finally:
        await publisher.stop()
