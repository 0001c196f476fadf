"""The worker's start-up heap, frozen out of the garbage collector's way.

A started worker holds about two million tracked objects (LiteLLM's proxy, its model cost map,
Atrium's routes and policy); nearly all live as long as the process. CPython's full collection
walks every one of them: measured under load, each took about a second of CPU, and an answer
waiting behind one waited that long. ``gc.freeze()`` once start-up is over moves them to the
permanent generation, which collections skip; cycles made later are collected as before, and a
start-up object that dies is still freed by its reference count. Measured in
``scripts/bench_overhead.py`` (docs/benchmarks.md). ``ATRIUM_GC_FREEZE=0`` turns it off.
"""

from __future__ import annotations

import gc
import logging
import os

__all__ = ["freeze_startup_heap", "frozen_objects"]

log = logging.getLogger("atrium.heap")


def freeze_startup_heap() -> int:
    """Collect start-up garbage, then freeze what is left; the number of objects frozen (0: off)."""
    if os.environ.get("ATRIUM_GC_FREEZE", "1").strip().lower() in ("0", "false", "no", "off"):
        return 0
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("start-up heap frozen", extra={"objects": frozen, "pid": os.getpid()})
    return frozen


def frozen_objects() -> int:
    return gc.get_freeze_count()
