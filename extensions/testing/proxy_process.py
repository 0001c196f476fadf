"""Run a real ``atrium serve`` process on a free loopback port for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import yaml

from extensions.testing.fake_upstream import free_port
from extensions.testing.processes import ProcessExited, stop_process, wait_until_answering

__all__ = ["ProxyProcess"]


class ProxyProcess:
    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None,
        master_key: str,
        config: dict[str, Any] | None = None,
        redis_url: str | None = None,
        workers: int = 1,
        extra_env: dict[str, str] | None = None,
        command: list[str] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.master_key = master_key
        self.workers = workers
        log_dir = log_dir or Path(os.environ.get("ATRIUM_TEST_LOG_DIR", workdir))
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"proxy-{self.port}.log"
        config_path: Path | None = None
        if config is not None:
            config_path = workdir / f"config-{self.port}.yaml"
            config_path.write_text(yaml.safe_dump(config))
        self.env = {
            **os.environ,
            "LITELLM_MASTER_KEY": master_key,
            "ATRIUM_DATA_DIR": str(workdir / f"data-{self.port}"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **(extra_env or {}),
        }
        if database_url:
            self.env["DATABASE_URL"] = database_url
        else:
            self.env.pop("DATABASE_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        else:
            self.env.pop("REDIS_URL", None)
        self.command = command or [
            str(Path(sys.executable).parent / "atrium"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        if config_path is not None and command is None:
            self.command += ["--config", str(config_path)]
        self.config_path = config_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = float(os.environ.get("ATRIUM_TEST_PROXY_START_S", "480"))) -> ProxyProcess:
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            self.command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            if wait_until_answering(f"{self.base_url}/health/liveliness", self._proc, timeout, interval=0.5):
                return self
        except ProcessExited as exc:
            raise RuntimeError(f"proxy exited with {exc.returncode}:\n{self.log_tail()}") from exc
        self.stop()
        raise RuntimeError(f"proxy did not become live in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process(self._proc, grace=20, whole_group=True)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
