"""One background loop of a worker: a named asyncio task that runs a step, sleeps, and runs it again.

Several features run such a loop (audit pruning, sink forwarding, anchoring, ...); they share this
one so start/stop, cancellation and "a failing step is logged and retried, never kills the loop"
are written once. The step returns how long to sleep before the next run (None: the interval), so
a step that left work behind can run again at once and one that failed can back off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["Loop", "Step"]

Step = Callable[[], Awaitable[float | None]]


class Loop:
    def __init__(self, name: str, step: Step, interval: float, log: logging.Logger) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.log = log
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Run the step now instead of at the end of the current sleep."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            delay: float | None = None
            try:
                delay = await self.step()
            except Exception:
                # A step's failure (database away, ...) is the next run's problem, not the worker's.
                self.log.warning("%s failed; retried in %.0f s", self.name, self.interval, exc_info=True)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval if delay is None else max(delay, 0.0))
