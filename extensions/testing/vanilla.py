"""Vanilla LiteLLM (the ``litellm`` CLI of this venv) as a ``ProxyProcess``, beside ``atrium serve``.

Shared by ``scripts/bench_overhead.py`` (overhead) and ``tests/parity/`` (behaviour): both need the
unmodified proxy started the way LiteLLM documents it, on the same Prisma engine Atrium uses, so
that any difference measured or observed is Atrium's and not the launcher's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from extensions.prisma_engine import engine_env, select_engine
from extensions.testing.proxy_process import ProxyProcess

__all__ = ["COMMON_ENV", "vanilla_proxy"]

# Same for both proxies: LiteLLM's logger and, for the `litellm` CLI, uvicorn at WARNING (no access
# log line per request; `atrium serve` runs uvicorn at WARNING already).
COMMON_ENV = {"LITELLM_LOG": "WARNING"}


def vanilla_proxy(
    workdir: Path,
    *,
    database_url: str,
    master_key: str,
    config: dict[str, Any],
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    redis_url: str | None = None,
) -> ProxyProcess:
    """An unstarted vanilla LiteLLM proxy on a free loopback port, reading ``config`` (with
    ``redis_url``: LiteLLM's ``REDIS_URL``, which it uses for its own spend counters and caches)."""
    env = {
        **COMMON_ENV,
        # The database is migrated beforehand (Atrium's migrator applies LiteLLM's own migrations):
        # LiteLLM's `prisma db push` at start-up would need the Prisma CLI and network.
        "DISABLE_SCHEMA_UPDATE": "true",
        "STORE_MODEL_IN_DB": "True",
        **engine_env(select_engine()),
        **(extra_env or {}),
    }
    proxy = ProxyProcess(
        workdir,
        database_url=database_url,
        master_key=master_key,
        config=config,
        extra_env=env,
        command=[],
        redis_url=redis_url,
    )
    # ProxyProcess picks the port and writes the config file: the command can only name them now.
    proxy.command = [
        str(Path(sys.executable).parent / "litellm"),
        *("--config", str(proxy.config_path), "--host", "127.0.0.1"),
        *("--port", str(proxy.port), "--num_workers", str(workers)),
    ]
    return proxy
