"""docs/quickstart.md runs: every ```bash and ```python block, in order, against the session's gateway.

The test proxy stands in for ``make run`` (the one ```console block, not run here): the blocks
read the gateway's address and master key from ``$ATRIUM_URL`` / ``$MASTER_KEY`` and the
provider's address from ``$UPSTREAM_URL``, which the doc defaults for a local ``make run`` and
this test points at the fake upstream. Variables a block exports reach the blocks after it, as
in the reader's terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess

DOC = Path(__file__).resolve().parent.parent / "docs" / "quickstart.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
RUNNABLE = {"bash", "python"}


def blocks(text: str) -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in FENCE.findall(text)]


def _load_env(path: Path) -> dict[str, str]:
    entries = path.read_bytes().split(b"\0")
    return dict(e.decode().split("=", 1) for e in entries if b"=" in e)


def test_the_doc_has_every_step() -> None:
    found = blocks(DOC.read_text())
    assert {lang for lang, _ in found} == {"console", "bash", "python"}, "unknown block language: runs nothing"
    code = "\n".join(body for lang, body in found if lang in RUNNABLE)
    for step in ("/account/new", "/account/admin/add", "/key/generate", "/v2/login", "/user/new", "/credentials",
                 "/model/new", "chat.completions.create", "/account/suspend", "/account/reactivate"):  # fmt: skip
        assert step in code, f"the quickstart lost its {step} step"


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None, reason="the doc needs curl and jq")
def test_quickstart_runs(proxy: ProxyProcess, master_key: str, upstream: FakeUpstream, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ATRIUM_URL": proxy.base_url,
        "MASTER_KEY": master_key,
        "UPSTREAM_URL": upstream.base_url,
    }
    state = tmp_path / "env"
    ran = 0
    for index, (lang, body) in enumerate(blocks(DOC.read_text())):
        if lang not in RUNNABLE:
            continue
        if lang == "bash":
            script = f"set -euo pipefail\n{body}\nenv -0 > {state}\n"
            command = ["bash", "-c", script]
        else:
            command = [sys.executable, "-c", body]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert result.returncode == 0, f"block {index} ({lang}) failed:\n{body}\nstdout:\n{result.stdout}\n" \
            f"stderr:\n{result.stderr}"  # fmt: skip
        if lang == "bash":
            env = _load_env(state)
        if lang == "python":
            # The chat answered with Acme's deployment (the fake upstream echoes the conversation).
            assert "Hello from Acme" in result.stdout, result.stdout
            assert "gpt-4o" in result.stdout, result.stdout
            acme = [r for r in upstream.requests if "Hello from Acme" in str(r.body)]
            assert acme and acme[-1].authorization == "Bearer sk-acme-openai-key"  # Acme's own credential
        ran += 1
    assert ran >= 8
    assert env.get("BOB_KEY", "").startswith("sk-") and env.get("ACME_ADMIN_KEY", "").startswith("sk-")
