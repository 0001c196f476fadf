"""Child processes of the test harness: wait until one answers over HTTP, stop one cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx

__all__ = ["ProcessExited", "stop_process", "wait_until_answering"]


class ProcessExited(RuntimeError):
    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"exited with {returncode}")
        self.returncode = returncode


def wait_until_answering(url: str, proc: subprocess.Popen[bytes], timeout: float, *, interval: float = 0.2) -> bool:
    """True once ``url`` answers 200, False after ``timeout``; ProcessExited if ``proc`` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ProcessExited(proc.returncode)
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    return False


def stop_process(proc: subprocess.Popen[bytes] | None, *, grace: float = 10, whole_group: bool = False) -> None:
    """SIGTERM (to its process group with ``whole_group``), then SIGKILL after ``grace`` seconds."""
    if proc is None or proc.poll() is not None:
        return

    def send(sig: signal.Signals) -> None:
        if whole_group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)

    send(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()
