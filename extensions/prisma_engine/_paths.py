"""Where Atrium's data files live (engine project, schema, migrations), and prisma-client-py's engines.

Two layouts exist. A checkout (editable install, ``make run``, the tests) keeps them at the
repository root: ``prisma/engine``, ``schema.prisma``, ``prisma/migrations``. A wheel
(``pip install .``, the production image) carries copies in ``extensions/_bundle/`` (see
``setup.py``), because nothing of the checkout is there at run time. An environment
variable overrides each one; nothing falls back to a path that merely happens to exist,
such as prisma-client-py's own ``site-packages/prisma``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENGINE_COMMIT = "393aa359c9ad4a4bb28630fb5613f9c281cde053"
PRISMA_VERSION = "5.17.0"

PACKAGE_DIR = Path(__file__).resolve().parents[1]
BUNDLE_DIR = PACKAGE_DIR / "_bundle"


def checkout_root() -> Path | None:
    """The repository root when running from a checkout, else None (a wheel's parent is site-packages)."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "prisma").is_dir() else None


def data_candidates(env_var: str, bundled: str, in_checkout: str) -> list[Path]:
    """Where a data file may be, in the order they are tried: override, wheel, checkout."""
    override = os.environ.get(env_var)
    if override:
        # An operator's explicit choice is the only candidate: a typo must fail, not fall back.
        return [Path(override).expanduser().resolve()]
    found = [BUNDLE_DIR / bundled]
    root = checkout_root()
    if root is not None:
        found.append(root / in_checkout)
    return found


def resolve_data(env_var: str, bundled: str, in_checkout: str) -> Path:
    """The first existing candidate, else the first one (so the caller's error names a real place)."""
    candidates = data_candidates(env_var, bundled, in_checkout)
    return next((p for p in candidates if p.exists()), candidates[0])


ENGINE_DIR: Path = resolve_data("ATRIUM_PRISMA_ENGINE_DIR", "engine", "prisma/engine")


def default_schema() -> Path:
    """The root ``schema.prisma`` the client is generated from (env ``ATRIUM_SCHEMA`` overrides)."""
    return resolve_data("ATRIUM_SCHEMA", "schema.prisma", "schema.prisma")


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
