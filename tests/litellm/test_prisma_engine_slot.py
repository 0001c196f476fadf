"""LiteLLM's Prisma drain tracking works on the prisma-client-py Atrium pins (0.15.0).

LiteLLM writes its tracked engine to ``Prisma._Prisma__engine`` (prisma-client-py 0.11's mangled
slot); ``extensions/litellm/_prisma.py`` maps that name onto 0.15's ``_internal_engine``. These
tests run LiteLLM's own instrumentation on the generated client, with and without the mapping.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from litellm.proxy.db.prisma_client import PrismaWrapper, _TrackedPrismaEngine

from extensions import litellm
from prisma import Prisma


class _Engine:
    """Stands in for a connected query engine: what LiteLLM's wrapper reads and forwards."""

    def __init__(self) -> None:
        self.process = SimpleNamespace(pid=4242)
        self.queries: list[str] = []

    async def query(self, content: str, *, tx_id: str | None) -> object:
        self.queries.append(content)
        return {"data": {"result": []}}

    def stop(self, timeout: float | None = None) -> None:
        """Prisma's ``__del__`` stops an engine it still holds."""


def _instrument(client: Any) -> Any:
    # Only the static read/write helpers of the wrapper run; no database connection is involved.
    wrapper = PrismaWrapper.__new__(PrismaWrapper)
    return wrapper._instrument_prisma_client(client)


def test_the_pinned_client_stores_its_engine_where_litellm_does_not_write() -> None:
    """The cause of the start-up line: without the mapping LiteLLM's write fails on the slotted class."""
    assert "_internal_engine" in {slot for base in Prisma.__mro__ for slot in getattr(base, "__slots__", ())}
    assert litellm.LEGACY_ENGINE_ATTRIBUTE == "_Prisma__engine"


async def test_litellm_instruments_the_engine_once_the_attribute_is_accepted() -> None:
    litellm.accept_legacy_engine_attribute()
    litellm.accept_legacy_engine_attribute()  # idempotent: install() may run more than once
    client = Prisma()
    engine = _Engine()
    client._internal_engine = engine  # what connect() leaves behind
    tracker = _instrument(client)
    assert tracker is not None
    tracked = client._engine
    assert isinstance(tracked, _TrackedPrismaEngine) and tracked.tracker is tracker
    assert tracked.process.pid == 4242  # LiteLLM's reconnect reads the PID through it
    await tracked.query("{}", tx_id=None)
    assert engine.queries == ["{}"]
    assert _instrument(client) is tracker  # a second connect keeps the same tracker


def test_without_the_mapping_litellms_write_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shows the test above can fail: the attribute removed, LiteLLM's write is the start-up exception."""
    litellm.accept_legacy_engine_attribute()
    monkeypatch.delattr(Prisma, litellm.LEGACY_ENGINE_ATTRIBUTE)
    client = Prisma()
    client._internal_engine = _Engine()
    with pytest.raises(AttributeError, match="_Prisma__engine"):
        _instrument(client)
