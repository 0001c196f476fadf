"""Where the engine project lives and where prisma-client-py keeps native engines."""

from __future__ import annotations

import os
from pathlib import Path

ENGINE_COMMIT = "393aa359c9ad4a4bb28630fb5613f9c281cde053"
PRISMA_VERSION = "5.17.0"


def _engine_dir() -> Path:
    # An override lets a non-editable install (e.g. a wheel in a container) point at
    # the engine project shipped elsewhere; the editable install finds it in the repo.
    override = os.environ.get("ATRIUM_PRISMA_ENGINE_DIR")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2] / "prisma" / "engine"


ENGINE_DIR: Path = _engine_dir()


def wasm_query_engine() -> Path:
    return ENGINE_DIR / "bin" / "query-engine"


def wasm_schema_engine() -> Path:
    return ENGINE_DIR / "bin" / "schema-engine"


def node_modules() -> Path:
    return ENGINE_DIR / "node_modules"


def lockfile() -> Path:
    return ENGINE_DIR / "package-lock.json"


def prisma_cli_entrypoint() -> Path:
    """The Prisma CLI from the lockfile: prisma-client-py runs it when its cache dir is ENGINE_DIR."""
    return node_modules() / "prisma" / "build" / "index.js"


def native_cache_dir() -> Path:
    """prisma-client-py's default binary cache (``prisma._config.Config.from_base``)."""
    configured = os.environ.get("PRISMA_BINARY_CACHE_DIR")
    if configured and Path(configured).resolve() != ENGINE_DIR:
        return Path(configured)
    home = Path(os.environ.get("PRISMA_HOME_DIR") or Path.home())
    return home / ".cache" / "prisma-python" / "binaries" / PRISMA_VERSION / ENGINE_COMMIT


def native_candidates(binary_platform: str, kind: str) -> list[Path]:
    """Places a downloaded native ``query-engine`` / ``schema-engine`` can be found.

    The Prisma CLI downloads next to its own package (``node_modules/prisma``) or into
    ``@prisma/engines``; prisma-client-py's ``ensure()`` also looks for
    ``prisma-query-engine-<platform>`` in the cache dir and the working directory.
    """
    cache = native_cache_dir()
    names = [f"{kind}-{binary_platform}"]
    paths = [cache / "node_modules" / "prisma" / n for n in names]
    paths += [cache / "node_modules" / "@prisma" / "engines" / n for n in names]
    if kind == "query-engine":
        paths += [
            cache / f"prisma-query-engine-{binary_platform}",
            Path.cwd() / f"prisma-query-engine-{binary_platform}",
        ]
    return paths


def is_wasm_launcher(path: Path) -> bool:
    try:
        return path.resolve().parent == (ENGINE_DIR / "bin").resolve()
    except OSError:
        return False
