"""Smoke test of scripts/bench_overhead.py: both proxies come up, take load, and are compared.

A very short configuration (one 2 s round each); no figure is asserted beyond "requests
succeeded", since timings depend on the machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from extensions.testing.services import PostgresServer

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_overhead.py"
NUMBER = r"\d+\.\d+"


@pytest.mark.slow
@pytest.mark.parametrize(
    "workload",
    [(), ("--accounts", "2", "--models-per-account", "2"), ("--budgets",)],
    ids=["one-model", "per-account-models", "budgets"],
)
def test_bench_overhead_prints_both_figures_and_the_ratio(
    postgres: PostgresServer, tmp_path: Path, workload: tuple[str, ...]
) -> None:
    report = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *("--duration", "2", "--rounds", "1", "--concurrency", "4", "--warmup", "1", *workload),
            *("--database-url", postgres.admin_dsn, "--json", str(report)),
        ],
        capture_output=True,
        text=True,
        timeout=240,  # a safety net only; the run takes about 45 s
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
    out = result.stdout
    for proxy in ("vanilla", "atrium"):
        assert re.search(rf"^{proxy}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0\s", out, re.M), out
    assert re.search(rf"ratio atrium/vanilla: req/s {NUMBER}x, p50 {NUMBER}x, p99 {NUMBER}x", out), out
    assert re.search(rf"per-round req/s ratios: {NUMBER}; median {NUMBER}x", out), out

    results = json.loads(report.read_text())["results"]
    for proxy in ("vanilla", "atrium"):
        assert results[proxy]["rounds"][0]["ok"] > 0
        assert results[proxy]["errors"] == {}
    assert set(results["ratio_atrium_vanilla"]) == {"req/s", "p50", "p99"}
    assert len(results["round_ratios"]) == 1 and results["median_round_ratio"] == results["round_ratios"][0]
    if "--budgets" in workload:
        # Every request Atrium served went through the account ledger (warm-up and round alike).
        ledger = json.loads(report.read_text())["budget_ledger"]
        assert ledger["requests"] >= results["atrium"]["rounds"][0]["ok_all"] and ledger["spend"] > 0
        assert re.search(r"^budgets: the account ledger settled \d+ requests", out, re.M), out
