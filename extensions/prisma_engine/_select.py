"""Choose between Prisma's native query engine and the bundled wasm engine."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from extensions.errors import EngineError

from . import _paths

EngineKind = Literal["native", "wasm"]
ENV_CHOICE = "ATRIUM_PRISMA_ENGINE"
PROBE_TIMEOUT_S = 2.0
PROBE_TTL_S = 3600.0
DEFAULT_MIRROR = "https://binaries.prisma.sh"


@dataclass(frozen=True)
class EngineChoice:
    kind: EngineKind
    query_engine: Path | None
    schema_engine: Path | None
    reason: str


_lock = threading.Lock()
_cached: EngineChoice | None = None


def reset_cache() -> None:
    """Forget the cached decision (tests, or after installing a native engine)."""
    global _cached
    with _lock:
        _cached = None


def binary_platform() -> str:
    """Prisma's platform name, as ``prisma.binaries.platform`` computes it.

    Computed here because importing ``prisma`` loads the whole generated client.
    """
    system = platform.system().lower()
    if system != "linux":
        return system
    release = Path("/etc/os-release")
    os_release = release.read_text() if release.exists() else ""
    id_match = re.search(r'^ID="?([^"\n]*)', os_release, re.M)
    like_match = re.search(r'^ID_LIKE="?([^"\n]*)', os_release, re.M)
    distro_id = id_match.group(1) if id_match else ""
    distro_like = like_match.group(1) if like_match else ""
    if distro_id == "alpine":
        return "linux-musl"
    distro = "rhel" if any(d in distro_like for d in ("centos", "fedora", "rhel")) else "debian"
    ssl = "1.1.x"
    if shutil.which("openssl"):
        out = subprocess.run(["openssl", "version", "-v"], capture_output=True, text=True, check=False).stdout
        match = re.match(r"^OpenSSL\s(\d+\.\d+)\.\d+", out)
        if match:
            ssl = f"{match.group(1)}.x"
    return f"{distro}-openssl-{ssl}"


def _first_existing(paths: list[Path]) -> Path | None:
    return next((p for p in paths if p.is_file() and os.access(p, os.X_OK)), None)


def _native_present() -> tuple[Path | None, Path | None]:
    env_qe = os.environ.get("PRISMA_QUERY_ENGINE_BINARY")
    env_se = os.environ.get("PRISMA_SCHEMA_ENGINE_BINARY")
    qe = Path(env_qe) if env_qe and not _paths.is_wasm_launcher(Path(env_qe)) and Path(env_qe).is_file() else None
    se = Path(env_se) if env_se and not _paths.is_wasm_launcher(Path(env_se)) and Path(env_se).is_file() else None
    plat = binary_platform()
    qe = qe or _first_existing(_paths.native_candidates(plat, "query-engine"))
    se = se or _first_existing(_paths.native_candidates(plat, "schema-engine"))
    return qe, se


def _probe_url(plat: str) -> str:
    mirror = os.environ.get("PRISMA_ENGINES_MIRROR", DEFAULT_MIRROR).rstrip("/")
    return f"{mirror}/all_commits/{_paths.ENGINE_COMMIT}/{plat}/query-engine.gz.sha256"


def _probe_cache_file() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "atrium" / "prisma-engine-probe.json"


def native_downloadable(plat: str) -> bool:
    """Whether Prisma's binary host answers, with a short timeout; cached on disk for an hour."""
    url = _probe_url(plat)
    cache = _probe_cache_file()
    try:
        cached = json.loads(cache.read_text())
        if cached.get("url") == url and time.time() - float(cached["at"]) < PROBE_TTL_S:
            return bool(cached["reachable"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    reachable = False
    try:
        req = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(req, timeout=PROBE_TIMEOUT_S) as resp:
            reachable = 200 <= resp.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        reachable = False
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"url": url, "reachable": reachable, "at": time.time()}))
    except OSError:
        pass
    return reachable


def _wasm(reason: str) -> EngineChoice:
    return EngineChoice("wasm", _paths.wasm_query_engine(), _paths.wasm_schema_engine(), reason)


def _decide() -> EngineChoice:
    wanted = os.environ.get(ENV_CHOICE, "auto").strip().lower() or "auto"
    if wanted not in ("auto", "wasm", "native"):
        raise EngineError(
            f"{ENV_CHOICE}={wanted!r} is not understood",
            hint=f"set {ENV_CHOICE} to 'native', 'wasm' or leave it unset",
        )
    if wanted == "wasm":
        return _wasm(f"{ENV_CHOICE}=wasm")
    qe, se = _native_present()
    if qe is not None:
        return EngineChoice("native", qe, se, f"native query engine found at {qe}")
    plat = binary_platform()
    if native_downloadable(plat):
        return EngineChoice("native", None, None, f"native engines for {plat} can be downloaded by prisma-client-py")
    if wanted == "native":
        raise EngineError(
            f"{ENV_CHOICE}=native but no native query engine is installed and {_probe_url(plat)} is unreachable",
            hint=f"point PRISMA_QUERY_ENGINE_BINARY at it, allow the download, or set {ENV_CHOICE}=wasm",
        )
    return _wasm(f"no native query engine installed and Prisma's binary host is unreachable ({plat})")


def select_engine() -> EngineChoice:
    """The engine to use; decided once per process (the network probe is cached too)."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = _decide()
        return _cached


def engine_env(choice: EngineChoice) -> dict[str, str]:
    """Environment the proxy (and ``prisma generate``) need for ``choice``."""
    env = {"PRISMA_HIDE_UPDATE_MESSAGE": "true", "CHECKPOINT_DISABLE": "1"}
    if choice.kind == "wasm":
        assert choice.query_engine is not None and choice.schema_engine is not None
        env.update(
            PRISMA_QUERY_ENGINE_BINARY=str(choice.query_engine),
            PRISMA_SCHEMA_ENGINE_BINARY=str(choice.schema_engine),
            # prisma-client-py runs the Prisma CLI from <cache dir>/node_modules/prisma:
            # pointing it at the engine project uses the lockfile's CLI, with no npm install.
            PRISMA_BINARY_CACHE_DIR=str(_paths.ENGINE_DIR),
        )
    else:
        if choice.query_engine is not None:
            env["PRISMA_QUERY_ENGINE_BINARY"] = str(choice.query_engine)
        if choice.schema_engine is not None:
            env["PRISMA_SCHEMA_ENGINE_BINARY"] = str(choice.schema_engine)
    return env


def _node_version() -> str:
    node = shutil.which(os.environ.get("ATRIUM_NODE", "node"))
    if node is None:
        return "node missing"
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return f"node {out or '?'}"


def engine_problems() -> list[str]:
    """Why the chosen engine cannot run here (empty when it can): ``atrium doctor`` fails on any."""
    try:
        choice = select_engine()
    except EngineError as exc:
        return [str(exc)]
    if choice.kind == "native":
        return []
    from ._npm import node_modules_current

    problems: list[str] = []
    if not _paths.lockfile().is_file():
        problems.append(
            f"the wasm engine project is missing at {_paths.ENGINE_DIR} (no package-lock.json): "
            "reinstall the wheel, or point ATRIUM_PRISMA_ENGINE_DIR at a copy of prisma/engine"
        )
        return problems
    if shutil.which(os.environ.get("ATRIUM_NODE", "node")) is None:
        problems.append("node is not on PATH: the wasm engine runs on Node.js 18.18+")
    if not node_modules_current():
        problems.append(
            f"the wasm engine's node_modules in {_paths.ENGINE_DIR} are missing or do not match its lockfile: "
            "run `python -m extensions.prisma_engine install` (npm ci from the lockfile)"
        )
    return problems


def describe() -> str:
    """One line for ``atrium doctor``."""
    choice = select_engine()
    if choice.kind == "wasm":
        from ._npm import node_modules_current

        deps = "node_modules ok" if node_modules_current() else "node_modules missing or stale (npm ci)"
        return f"wasm ({choice.query_engine}; {_node_version()}; {deps}) because {choice.reason}"
    where = choice.query_engine or "downloaded on generate"
    return f"native ({where}) because {choice.reason}"
