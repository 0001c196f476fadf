"""``GET /atrium/status``: which worker answered and whether Atrium's additions are live in it."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter

from extensions.callbacks import atrium_callback
from extensions.heap import frozen_objects
from extensions.routes.errors import AtriumRoute
from extensions.runtime import runtime
from extensions.tenancy.request.context import peek_principal

__all__ = ["get_status_router"]


def get_status_router() -> APIRouter:
    router = APIRouter(tags=["Atrium"], route_class=AtriumRoute)

    @router.get("/atrium/status", summary="Atrium worker status (public, no secrets)")
    async def atrium_status() -> dict[str, Any]:
        return {
            "worker_pid": os.getpid(),
            "middleware": peek_principal() is not None,  # the account middleware set one
            "started": runtime.started,
            "prisma_wrapped": runtime.prisma_wrapped,
            "callback_successes": atrium_callback.successes,
            "gc_frozen_objects": frozen_objects(),  # the start-up heap the collector skips (extensions/heap.py)
        }

    return router
