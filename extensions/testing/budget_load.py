"""Concurrent chat load for budget tests and ``scripts/bench_budgets.py``: many keys, many replicas."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Answer", "LoadResult", "fire", "warm_keys"]


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass
class LoadResult:
    answers: list[Answer] = field(default_factory=list)

    @property
    def served(self) -> int:
        return sum(a.status == 200 for a in self.answers)

    @property
    def refused(self) -> list[Answer]:
        return [a for a in self.answers if a.status != 200]


async def fire(
    base_urls: list[str], keys: list[str], requests: int, *, model: str = "gpt-fake", max_tokens: int = 5
) -> LoadResult:
    """``requests`` chat completions at once, spread round-robin over the replicas and the keys."""
    targets = itertools.cycle(itertools.product(base_urls, keys))
    plan = [next(targets) for _ in range(requests)]
    start = asyncio.Event()
    limits = httpx.Limits(max_connections=requests, max_keepalive_connections=requests)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def one(n: int, base_url: str, key: str) -> Answer:
            await start.wait()
            reply = await client.post(
                f"{base_url}/v1/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": f"load {n}"}], "max_tokens": max_tokens},
                headers={"Authorization": f"Bearer {key}"},
            )
            try:
                body = reply.json()
            except ValueError:
                body = {"raw": reply.text[:500]}
            return Answer(reply.status_code, body if isinstance(body, dict) else {"raw": body})

        tasks = [asyncio.create_task(one(n, base, key)) for n, (base, key) in enumerate(plan)]
        await asyncio.sleep(0)
        start.set()
        return LoadResult(list(await asyncio.gather(*tasks)))


async def warm_keys(base_urls: list[str], keys: list[str], rounds: int = 3) -> None:
    """Let each worker learn each key with a free call first. Many cold key lookups at once can pass
    LiteLLM's 10 s key-lookup deadline on a small machine (503), which measures the machine."""
    gate = asyncio.Semaphore(16)
    async with httpx.AsyncClient(timeout=60) as client:

        async def models(base_url: str, key: str) -> None:
            async with gate:
                reply = await client.get(f"{base_url}/v1/models", headers={"Authorization": f"Bearer {key}"})
                reply.raise_for_status()

        await asyncio.gather(*(models(b, k) for b in base_urls for k in keys for _ in range(rounds)))
