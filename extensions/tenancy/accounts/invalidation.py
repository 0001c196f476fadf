"""Cross-worker, cross-replica cache invalidation.

With ``REDIS_URL`` the bus is Redis pub/sub; without it, PostgreSQL ``LISTEN/NOTIFY`` on
the shared database does the same job, so a suspension reaches every worker and replica
either way. Messages are small JSON objects: ``{"kind": "account", "id": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import asyncpg

__all__ = ["CHANNEL", "InvalidationBus", "PostgresBus", "RedisBus", "make_bus"]

log = logging.getLogger("atrium.invalidation")

CHANNEL = "atrium_invalidate"

Handler = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]


class InvalidationBus(Protocol):
    async def start(self, handler: Handler) -> None: ...
    async def publish(self, message: dict[str, Any]) -> None: ...
    async def stop(self) -> None: ...


class PostgresBus:
    def __init__(self, dsn: str, pool: asyncpg.Pool) -> None:
        self._dsn = dsn
        self._pool = pool
        self._conn: asyncpg.Connection | None = None
        self._handler: Handler | None = None

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if self._handler is not None:
            asyncio.get_running_loop().create_task(self._handler(json.loads(payload)))

    async def start(self, handler: Handler) -> None:
        self._handler = handler
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(CHANNEL, self._on_notify)

    async def publish(self, message: dict[str, Any]) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, json.dumps(message))

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class RedisBus:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._task: asyncio.Task[None] | None = None

    async def start(self, handler: Handler) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL)

        async def listen() -> None:
            while True:
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message is not None:
                        await handler(json.loads(message["data"]))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("invalidation listener failed; resubscribing")
                    await asyncio.sleep(0.5)

        self._task = asyncio.get_running_loop().create_task(listen())

    async def publish(self, message: dict[str, Any]) -> None:
        await self._redis.publish(CHANNEL, json.dumps(message))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._redis.aclose()


def make_bus(dsn: str, pool: asyncpg.Pool, redis_url: str | None) -> InvalidationBus:
    return RedisBus(redis_url) if redis_url else PostgresBus(dsn, pool)
