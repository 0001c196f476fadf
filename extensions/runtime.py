"""Per-worker runtime state built by the lifespan: pools and flags, one instance per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Runtime", "runtime"]


@dataclass
class Runtime:
    started: bool = False
    prisma_wrapped: bool = False
    pool: Any = None  # asyncpg.Pool, once started with a database
    bus: Any = None  # InvalidationBus
    resolver: Any = None  # TenantResolver
    accounts: Any = None  # AccountStore


runtime = Runtime()
