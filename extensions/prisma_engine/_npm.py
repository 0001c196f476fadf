"""Install the engine project's Node dependencies from its lockfile."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from extensions.errors import EngineError

from . import _paths

# Written into node_modules after a successful install, so a changed lockfile is noticed.
STAMP_NAME = ".atrium-lock-sha256"


def _lock_digest() -> str:
    return hashlib.sha256(_paths.lockfile().read_bytes()).hexdigest()


def node_modules_current() -> bool:
    stamp = _paths.node_modules() / STAMP_NAME
    wasm = _paths.node_modules() / "@prisma" / "query-engine-wasm" / "package.json"
    if not _paths.prisma_cli_entrypoint().is_file() or not wasm.is_file():
        return False
    if stamp.is_file():
        return stamp.read_text().strip() == _lock_digest()
    # Installed by a plain `npm ci` (e.g. the Makefile): npm's own record of the tree names
    # every package it installed. Compared by content, not by mtime: a wheel install gives the
    # lockfile a fresh mtime, which would make a current tree look stale and re-run npm.
    return _installed_match_lock(_paths.node_modules() / ".package-lock.json")


def _packages(path: Path) -> dict[str, tuple[object, object]]:
    packages = json.loads(path.read_text()).get("packages") or {}
    return {
        name: (meta.get("version"), meta.get("integrity"))
        for name, meta in packages.items()
        if name and isinstance(meta, dict)
    }


def _installed_match_lock(hidden: Path) -> bool:
    try:
        return hidden.is_file() and _packages(hidden) == _packages(_paths.lockfile())
    except (OSError, ValueError, AttributeError):
        return False


def ensure_node_modules() -> None:
    """Run ``npm ci`` in the engine project when node_modules is missing or stale.

    Install scripts are skipped: the only ones in the tree (the Prisma CLI's engine
    download) need Prisma's binary host, which offline deployments cannot reach, and
    the wasm engine does not use what they fetch.
    """
    if not _paths.lockfile().is_file():
        raise EngineError(
            f"{_paths.lockfile()} is missing",
            hint="the engine project is incomplete; restore prisma/engine from the repository",
        )
    if node_modules_current():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise EngineError(
            "npm is not on PATH",
            hint="install Node.js 18.18+ (with npm); the wasm Prisma engine runs on Node",
        )
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"]
    proc = subprocess.run(cmd, cwd=_paths.ENGINE_DIR, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise EngineError(
            f"`npm ci` failed in {_paths.ENGINE_DIR} (exit {proc.returncode}):\n{tail}",
            hint="check that the npm registry (or a mirror / npm cache) is reachable",
        )
    (_paths.node_modules() / STAMP_NAME).write_text(_lock_digest() + "\n")
