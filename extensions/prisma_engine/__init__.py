"""Prisma engine support: run prisma-client-py with no engine download.

prisma-client-py 0.15 (Prisma 5.17) needs a native query engine that it downloads from
Prisma's binary host. Where that host is unreachable, Atrium uses ``prisma/engine``: the
same engine commit compiled to WebAssembly, run by a Node server that answers the
native binary's HTTP interface. This package picks the engine, installs the Node
project from its lockfile and runs ``prisma generate`` with it.

    >>> from extensions.prisma_engine import select_engine, engine_env
    >>> os.environ.update(engine_env(select_engine()))
"""

from __future__ import annotations

from ._generate import generate
from ._npm import ensure_node_modules
from ._paths import ENGINE_COMMIT, ENGINE_DIR, default_schema, resolve_data
from ._select import EngineChoice, EngineKind, describe, engine_env, engine_problems, reset_cache, select_engine

__all__ = [
    "ENGINE_COMMIT",
    "ENGINE_DIR",
    "EngineChoice",
    "EngineKind",
    "default_schema",
    "describe",
    "engine_env",
    "engine_problems",
    "ensure_node_modules",
    "generate",
    "reset_cache",
    "resolve_data",
    "select_engine",
]
