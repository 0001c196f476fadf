"""`make run` generates the Prisma client once: in `install` (when the schema changed), not again in deploy.sh.

The deploy steps run against stand-in executables (``ATRIUM_VENV``) that record how they were
called, so the script's own control flow is what is tested, without a database or a server.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "scripts" / "deploy.sh"


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "calls"
    for name in ("python", "atrium"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n')
        stub.chmod(0o755)
    return tmp_path / "venv"


def _steps(venv: Path, *args: str, database_url: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["ATRIUM_VENV"] = str(venv)
    if database_url:
        env["DATABASE_URL"] = database_url
    subprocess.run([str(DEPLOY), *args], env=env, check=True, capture_output=True, timeout=60)
    calls = venv.parent / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def _generates(calls: list[str]) -> int:
    return sum("extensions.prisma_engine generate" in call for call in calls)


def test_make_run_uses_the_step_that_does_not_generate_again() -> None:
    recipe = subprocess.run(
        ["make", "-n", "-B", "run"], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    deploy_lines = [line for line in recipe if "deploy.sh" in line]
    assert deploy_lines == ["scripts/deploy.sh generate", "scripts/deploy.sh serve"], recipe


def test_serve_migrates_and_starts_without_generating(venv: Path) -> None:
    calls = _steps(venv, "serve", database_url="postgresql://db/x")
    assert _generates(calls) == 0
    assert calls == ["atrium migrate", "atrium serve --no-migrate"]


def test_serve_without_a_database_starts_the_embedded_one(venv: Path) -> None:
    assert _steps(venv, "serve", database_url=None) == ["atrium serve"]


def test_the_images_default_still_generates_once(venv: Path) -> None:
    calls = _steps(venv, database_url="postgresql://db/x")
    assert _generates(calls) == 1
    assert calls[1:] == ["atrium migrate", "atrium serve --no-migrate"]
