"""The production image's steps, without Docker: a wheel installed outside the checkout.

The Dockerfile runs ``pip install .`` (not editable), copies only ``scripts/`` next to it, installs the
wasm engine's npm packages, then ``deploy.sh generate``, ``migrate`` and ``start``. Any path that still
points into the checkout (migrations, schema, engine project) passes an editable test run and breaks the
image, so this test reproduces the image's layout:

- the wheel is built from a copy of the sources (as ``COPY`` + ``pip install .`` would see them);
- a fresh venv gets the wheel with ``--no-deps``; its dependencies come from the shared venv through a
  plain path line in a ``.pth`` file, which does not run the shared venv's ``.pth`` hooks (so Atrium's
  editable finder stays out), and the test asserts ``extensions`` is imported from the new venv;
- ``prisma`` (prisma-client-py) is copied into the new venv: ``generate`` writes the client into the
  package it runs from, and must not rewrite the shared venv's;
- the engine's ``node_modules`` are a copy of the checkout's (what the image's ``npm ci`` produces; the
  test must not depend on the npm registry nor touch the shared tree).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openai import OpenAI
from tests_support_config import gateway_config

from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.services import PostgresServer

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_SITE = Path(next(p for p in site.getsitepackages() if p.endswith("site-packages")))
# What the Dockerfile copies into the build context for `pip install .`.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "schema.prisma", "extensions", "prisma")
# Variables of this test process that would point the image at the checkout or at the shared engine.
LEAKY_PREFIXES = ("PRISMA_", "ATRIUM_PRISMA_ENGINE_DIR", "ATRIUM_SCHEMA", "ATRIUM_MIGRATIONS_DIR", "ATRIUM_VENV")


def run(cmd: list[str | Path], env: dict[str, str], cwd: Path, *, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if ok and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@dataclass
class Image:
    venv: Path
    site: Path
    app: Path
    env: dict[str, str]

    @property
    def deploy(self) -> Path:
        return self.app / "scripts" / "deploy.sh"

    @property
    def engine_dir(self) -> Path:
        return self.site / "extensions" / "_bundle" / "engine"

    def atrium(
        self, *args: str, ok: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run([self.venv / "bin" / "atrium", *args], {**self.env, **(env or {})}, self.app, ok=ok)


def _install_prisma_client_py(venv: Path, site_dir: Path) -> None:
    for name in ("prisma", "prisma-0.15.0.dist-info"):
        shutil.copytree(SHARED_SITE / name, site_dir / name, ignore=shutil.ignore_patterns("__pycache__"))
    # Its console scripts (entry_points.txt): the Prisma CLI runs `prisma-client-py` found on PATH.
    for script in ("prisma", "prisma-client-py"):
        path = venv / "bin" / script
        path.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom prisma.cli import main\nsys.exit(main())\n")
        path.chmod(0o755)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    root = tmp_path_factory.mktemp("image")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("node_modules", "__pycache__", "*.egg-info", "build")
    for name in SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, ignore=ignore)
        else:
            shutil.copy2(source, src / name)
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(LEAKY_PREFIXES)}
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ".", "-w", root / "dist"], base_env, src)
    wheel = next((root / "dist").glob("atrium_gateway-*.whl"))

    venv = root / "venv"
    run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv], base_env, root)
    # The shared pip installs into the fresh interpreter's environment (`--python`), and before the
    # .pth exists, so it sees an empty environment (not the shared venv's editable atrium-gateway,
    # which it would call "already satisfied").
    pip = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q"]
    run([*pip, "--no-deps", "--no-index", wheel], base_env, root)
    site_dir = Path(
        run(
            [venv / "bin" / "python", "-c", "import site; print(site.getsitepackages()[0])"], base_env, root
        ).stdout.strip()
    )
    (site_dir / "zz_shared_dependencies.pth").write_text(f"{SHARED_SITE}\n")
    _install_prisma_client_py(venv, site_dir)

    app = root / "app"
    shutil.copytree(REPO_ROOT / "scripts", app / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **base_env,
        "PATH": os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        # The image would pick native when Prisma's host answers; the test runs the engine it ships.
        "ATRIUM_PRISMA_ENGINE": "wasm",
        "XDG_CACHE_HOME": str(root / "cache"),
        "ATRIUM_DATA_DIR": str(root / "data"),
    }
    yield Image(venv=venv, site=site_dir, app=app, env=env)


def test_the_wheel_runs_outside_the_checkout(
    image: Image, postgres: PostgresServer, upstream: FakeUpstream, master_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = run(
        [
            image.venv / "bin" / "python",
            "-c",
            "import extensions, prisma; print(extensions.__file__); print(prisma.__file__)",
        ],
        image.env,
        image.app,
    ).stdout.split()
    assert all(Path(p).is_relative_to(image.site) for p in where), where
    assert not (image.engine_dir / "node_modules").exists()

    # The image before its `npm ci`: doctor must say the engine cannot run.
    doctor = image.atrium("doctor", ok=False)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "FAILED" in doctor.stderr and "node_modules" in doctor.stderr
    assert "python -m extensions.prisma_engine install" in doctor.stderr

    shutil.copytree(
        (REPO_ROOT / "prisma" / "engine" / "node_modules").resolve(), image.engine_dir / "node_modules", symlinks=True
    )
    doctor = image.atrium("doctor")
    assert "atrium doctor: OK" in doctor.stdout and str(image.engine_dir) in doctor.stdout, doctor.stdout
    assert f"in {image.site / 'extensions' / '_bundle' / 'migrations'}" in doctor.stdout

    shared_client = tree_digest(SHARED_SITE / "prisma")
    generated = run([image.deploy, "generate"], image.env, image.app)
    assert str(image.site / "extensions" / "_bundle" / "schema.prisma") in generated.stdout
    assert tree_digest(SHARED_SITE / "prisma") == shared_client, "generate rewrote the shared venv's client"

    dsn = postgres.create_database("atrium_image_layout")
    try:
        db_env = {**image.env, "DATABASE_URL": dsn}
        first = run([image.deploy, "migrate"], db_env, image.app)
        assert "atrium_end_user_namespace" in first.stderr or " applied" in first.stderr, first.stderr
        second = run([image.deploy, "migrate"], db_env, image.app)
        assert "migrations: 0 applied" in second.stderr, second.stderr

        proxy = ProxyProcess(image.app, database_url=dsn, master_key=master_key, config=gateway_config(upstream))
        proxy.env = {**proxy.env, **image.env, "DATABASE_URL": dsn}
        proxy.env.pop("REDIS_URL", None)
        proxy.command = [
            *(str(image.deploy), "start", "--host", "127.0.0.1", "--port", str(proxy.port)),
            *("--workers", "1", "--config", str(proxy.config_path)),
        ]
        # uvicorn imports the app with the working directory on sys.path: not the checkout's.
        monkeypatch.chdir(image.app)
        proxy.start()
        try:
            client = OpenAI(base_url=f"{proxy.base_url}/v1", api_key=master_key, max_retries=0)
            before = len(upstream.requests)
            reply = client.chat.completions.create(
                model="gpt-fake", messages=[{"role": "user", "content": "hello from the image"}]
            )
            assert reply.choices[0].message.content
            assert any(
                r.body.get("messages", [{}])[-1].get("content") == "hello from the image"
                for r in upstream.requests[before:]
            )
        finally:
            proxy.stop()
        log = proxy.log_path.read_text(errors="replace")
        assert str(REPO_ROOT / "extensions") not in log
    finally:
        postgres.drop_database(dsn)


def test_a_missing_data_path_fails_clearly(image: Image) -> None:
    # An explicit path that does not exist is an error, never a fall-back to the wheel's copy.
    missing = image.app / "no-such-dir"
    env = {"ATRIUM_PRISMA_ENGINE_DIR": str(missing), "ATRIUM_MIGRATIONS_DIR": str(missing)}
    doctor = image.atrium("doctor", ok=False, env=env)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert f"wasm engine project is missing at {missing}" in doctor.stderr
    assert f"migrations folder {missing} does not exist" in doctor.stderr
