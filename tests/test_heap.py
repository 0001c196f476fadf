"""The start-up heap freeze (extensions/heap.py); a served worker's is checked in tests/test_gateway.py."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from extensions.heap import freeze_startup_heap, frozen_objects


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freezes_what_start_up_left(unfrozen: None) -> None:
    assert frozen_objects() == 0
    kept = [[n] for n in range(10)]
    assert any(o is kept for o in gc.get_objects())  # the collector walks it
    # Not equal to frozen_objects() afterwards: a frozen object that dies (its last reference
    # dropped, maybe by another thread) leaves the permanent generation.
    assert freeze_startup_heap() > len(kept)
    assert frozen_objects() > len(kept)
    assert not any(o is kept for o in gc.get_objects())  # now it does not
    made_later = [[0]]
    assert any(o is made_later for o in gc.get_objects())  # what comes after is collected as before


@pytest.mark.parametrize("off", ["0", "false", "off"])
def test_off_switch(unfrozen: None, monkeypatch: pytest.MonkeyPatch, off: str) -> None:
    monkeypatch.setenv("ATRIUM_GC_FREEZE", off)
    assert freeze_startup_heap() == 0
    assert frozen_objects() == 0
