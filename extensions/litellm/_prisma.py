"""The engine slot LiteLLM's Prisma drain tracking writes, on the prisma-client-py Atrium pins.

LiteLLM 1.108.7 (``litellm/proxy/db/prisma_client.py``) wraps the connected client's query
engine in a ``_TrackedPrismaEngine`` so a reconnect can wait for in-flight work before it
retires the old engine. It reads the engine through ``Prisma._engine`` but writes it back as
``prisma_client._Prisma__engine``: the name-mangled ``self.__engine`` of prisma-client-py
0.11 (the version LiteLLM's own images pin). From 0.13 the engine lives in
``BasePrisma._internal_engine`` and ``Prisma`` has ``__slots__``, so on the pinned 0.15.0
that write raised ``AttributeError`` inside ``PrismaWrapper.connect``: every start logged
"LiteLLM Prisma Client Exception connect(): 'Prisma' object has no attribute
'_Prisma__engine'", LiteLLM retried the connect (which then skipped instrumentation because
the client was connected) and the drain tracking never ran.

Downgrading to 0.11 is not an option: the offline WebAssembly engine (``prisma/engine``)
is built for 0.15's engine protocol. Instead the generated ``Prisma`` class gets a property of
that name which reads and writes the slot 0.15 uses, so LiteLLM's write lands where the
client reads its engine from, and every query goes through LiteLLM's tracker as intended.
"""

from __future__ import annotations

import importlib
from typing import Any

from extensions.errors import CompatibilityError
from extensions.litellm._base import Internal

__all__ = ["INTERNALS", "LEGACY_ENGINE_ATTRIBUTE", "accept_legacy_engine_attribute"]

LEGACY_ENGINE_ATTRIBUTE = "_Prisma__engine"
_SLOT = "_internal_engine"

INTERNALS: tuple[Internal, ...] = (
    Internal("litellm.proxy.db.prisma_client", "PrismaWrapper._write_engine", ("prisma_client", "engine")),
    Internal("litellm.proxy.db.prisma_client", "PrismaWrapper._read_engine", ("prisma_client",)),
    Internal("litellm.proxy.db.prisma_client", "PrismaWrapper._instrument_prisma_client", ("self", "prisma_client")),
)


def _get(client: Any) -> Any:
    return getattr(client, _SLOT)


def _set(client: Any, engine: Any) -> None:
    setattr(client, _SLOT, engine)


def accept_legacy_engine_attribute() -> None:
    """Give the generated ``prisma.Prisma`` the attribute LiteLLM writes its tracked engine to.

    Idempotent; fails loudly when the client no longer stores its engine where 0.15 does, so
    a prisma upgrade cannot silently bring the start-up exception back.
    """
    prisma_client: Any = importlib.import_module("prisma.client")
    cls = prisma_client.Prisma
    if hasattr(cls, LEGACY_ENGINE_ATTRIBUTE):
        return  # installed before, or a client that has the slot itself (prisma-client-py 0.11)
    if not any(_SLOT in getattr(base, "__slots__", ()) for base in cls.__mro__):
        raise CompatibilityError(
            f"prisma.Prisma no longer stores its engine in {_SLOT!r}",
            hint="review extensions/litellm/_prisma.py against the installed prisma-client-py",
        )
    setattr(cls, LEGACY_ENGINE_ATTRIBUTE, property(_get, _set, doc="LiteLLM's name for the engine slot"))
