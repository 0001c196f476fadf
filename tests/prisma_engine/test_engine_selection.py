"""extensions.prisma_engine: public API, engine choice, launchers and the CLI."""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import extensions.prisma_engine as pe
from extensions.errors import AtriumError, EngineError

COMMIT = "393aa359c9ad4a4bb28630fb5613f9c281cde053"


@pytest.fixture
def fresh_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No cached decision, no probe cache, no native engine, an unreachable mirror."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PRISMA_HOME_DIR", str(tmp_path / "home"))
    monkeypatch.setenv("PRISMA_ENGINES_MIRROR", "http://127.0.0.1:9")  # discard port: refused at once
    monkeypatch.delenv("PRISMA_QUERY_ENGINE_BINARY", raising=False)
    monkeypatch.delenv("PRISMA_SCHEMA_ENGINE_BINARY", raising=False)
    monkeypatch.delenv("PRISMA_BINARY_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    pe.reset_cache()
    yield monkeypatch
    pe.reset_cache()


def test_exported_members() -> None:
    public = {
        name
        for name, value in vars(pe).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert public == set(pe.__all__)
    assert (pe.ENGINE_DIR / "package-lock.json").is_file()
    assert pe.ENGINE_COMMIT == COMMIT


def test_launchers_answer_version_probes() -> None:
    qe = subprocess.run([pe.ENGINE_DIR / "bin" / "query-engine", "--version"], capture_output=True, text=True)
    assert qe.returncode == 0 and qe.stdout.strip() == f"query-engine {COMMIT}"
    se = subprocess.run([pe.ENGINE_DIR / "bin" / "schema-engine", "--version"], capture_output=True, text=True)
    assert se.returncode == 0 and se.stdout.strip() == f"schema-engine-cli {COMMIT}"


def test_schema_engine_refuses_migrations() -> None:
    proc = subprocess.run(
        [pe.ENGINE_DIR / "bin" / "schema-engine", "--datamodels", "schema.prisma"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "Atrium's own migrator" in proc.stderr


def test_auto_falls_back_to_wasm_and_caches(fresh_choice: pytest.MonkeyPatch) -> None:
    fresh_choice.delenv("ATRIUM_PRISMA_ENGINE", raising=False)
    choice = pe.select_engine()
    assert choice.kind == "wasm" and "unreachable" in choice.reason
    assert choice.query_engine == pe.ENGINE_DIR / "bin" / "query-engine"
    fresh_choice.setenv("ATRIUM_PRISMA_ENGINE", "native")
    assert pe.select_engine() is choice  # decided once per process


def test_forced_wasm_and_env(fresh_choice: pytest.MonkeyPatch) -> None:
    fresh_choice.setenv("ATRIUM_PRISMA_ENGINE", "wasm")
    choice = pe.select_engine()
    assert choice.kind == "wasm" and choice.reason == "ATRIUM_PRISMA_ENGINE=wasm"
    env = pe.engine_env(choice)
    assert env["PRISMA_QUERY_ENGINE_BINARY"] == str(pe.ENGINE_DIR / "bin" / "query-engine")
    assert env["PRISMA_SCHEMA_ENGINE_BINARY"] == str(pe.ENGINE_DIR / "bin" / "schema-engine")
    assert env["PRISMA_BINARY_CACHE_DIR"] == str(pe.ENGINE_DIR)
    assert pe.describe().startswith("wasm (")


def test_forced_native_without_engine_is_a_clear_error(fresh_choice: pytest.MonkeyPatch) -> None:
    fresh_choice.setenv("ATRIUM_PRISMA_ENGINE", "native")
    with pytest.raises(EngineError, match="no native query engine") as info:
        pe.select_engine()
    assert isinstance(info.value, AtriumError) and info.value.code == "prisma_engine_error"


def test_native_engine_found_on_disk(fresh_choice: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from extensions.prisma_engine._select import binary_platform

    fake = tmp_path / f"prisma-query-engine-{binary_platform()}"
    fake.write_text("#!/bin/sh\necho query-engine " + COMMIT + "\n")
    fake.chmod(0o755)
    choice = pe.select_engine()
    assert choice.kind == "native" and choice.query_engine == fake
    assert pe.engine_env(choice)["PRISMA_QUERY_ENGINE_BINARY"] == str(fake)


def test_unknown_choice_rejected(fresh_choice: pytest.MonkeyPatch) -> None:
    fresh_choice.setenv("ATRIUM_PRISMA_ENGINE", "rust")
    with pytest.raises(EngineError, match="not understood"):
        pe.select_engine()


def test_cli_which_and_env() -> None:
    env = {"ATRIUM_PRISMA_ENGINE": "wasm", "PATH": "/usr/bin:/bin"}
    which = subprocess.run(
        [sys.executable, "-m", "extensions.prisma_engine", "which"], capture_output=True, text=True, env=env
    )
    assert which.returncode == 0, which.stderr
    assert which.stdout.startswith("wasm (") and "query engine:" in which.stdout
    out = subprocess.run(
        [sys.executable, "-m", "extensions.prisma_engine", "env"], capture_output=True, text=True, env=env
    )
    assert "export PRISMA_QUERY_ENGINE_BINARY=" in out.stdout


def test_generate_rejects_missing_schema(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="does not exist"):
        pe.generate(tmp_path / "nope.prisma")
