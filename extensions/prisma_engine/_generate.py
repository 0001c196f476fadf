"""Run prisma-client-py's ``prisma generate`` with the chosen engine, offline for wasm."""

from __future__ import annotations

import compileall
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from extensions.errors import EngineError

from . import _paths
from ._npm import ensure_node_modules
from ._select import EngineChoice, engine_env, select_engine


def generate_command(schema_path: Path) -> list[str]:
    return [sys.executable, "-m", "prisma", "generate", f"--schema={schema_path}"]


def generate_env(choice: EngineChoice) -> dict[str, str]:
    env = dict(os.environ)
    env.update(engine_env(choice))
    # The schema's generator is the `prisma-client-py` executable of this interpreter's
    # environment; the Prisma CLI finds it on PATH only.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    # prisma-client-py would otherwise download Node through nodeenv when it finds no node.
    env.setdefault("PRISMA_USE_GLOBAL_NODE", "true")
    return env


def generate(schema_path: Path) -> None:
    """Generate the Python client from ``schema_path`` into this environment's ``prisma`` package."""
    schema_path = Path(schema_path).resolve()
    if not schema_path.is_file():
        raise EngineError(f"schema {schema_path} does not exist", hint="pass the path of schema.prisma")
    choice = select_engine()
    if choice.kind == "wasm":
        if shutil.which(os.environ.get("ATRIUM_NODE", "node")) is None:
            raise EngineError("node is not on PATH", hint="install Node.js 18.18+; the wasm engine runs on it")
        ensure_node_modules()
    proc = subprocess.run(
        generate_command(schema_path),
        env=generate_env(choice),
        cwd=schema_path.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise EngineError(
            f"`prisma generate --schema {schema_path}` failed with the {choice.kind} engine "
            f"(exit {proc.returncode}):\n{tail}",
            hint="run `python -m extensions.prisma_engine which` to see the engine choice",
            engine=choice.kind,
        )
    if choice.kind == "wasm" and not _paths.prisma_cli_entrypoint().is_file():
        raise EngineError("generate reported success but the Prisma CLI is missing from node_modules")
    _compile_client()


def _compile_client() -> None:
    """Byte-compile the generated client once, here.

    Its ``types.py`` is about 12 MB: compiling it costs some 40 s of CPU, which every process
    (each worker, each test proxy) paid again where bytecode is not written
    (``PYTHONDONTWRITEBYTECODE``, a read-only image layer).
    """
    spec = importlib.util.find_spec("prisma")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("generate reported success but the prisma package cannot be found")
    for location in spec.submodule_search_locations:
        if not compileall.compile_dir(location, quiet=1, workers=0):
            raise EngineError(f"the generated Prisma client in {location} does not compile")
