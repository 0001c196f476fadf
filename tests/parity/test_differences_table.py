"""The table of accepted differences stays honest: every row is used by a test, and says why."""

from __future__ import annotations

from pathlib import Path

from parity_support import TENANCY_DIFFERENCES

HERE = Path(__file__).resolve().parent


def test_every_accepted_difference_is_used_and_explained() -> None:
    sources = "".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != Path(__file__).name)
    for name, row in TENANCY_DIFFERENCES.items():
        assert f'"{name}"' in sources, f"difference {name!r} is accepted but no test names it: remove the row"
        assert row.route and row.what and row.rule, name
