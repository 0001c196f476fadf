"""The tenant-scoped wrapper around LiteLLM's Prisma client (``prisma_client.db``).

Installed once at start-up; every model action LiteLLM performs goes through it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ScopedPrisma"]


class ScopedPrisma:
    def __init__(self, db: Any) -> None:
        object.__setattr__(self, "_atrium_inner", db)

    @property
    def atrium_inner(self) -> Any:
        return object.__getattribute__(self, "_atrium_inner")

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_atrium_inner"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_atrium_inner"), name, value)
