"""No module outside ``extensions/litellm/`` imports LiteLLM, in any form.

The package is where an upgrade's changes are found (its contract check covers every
internal it touches); an import elsewhere would be an internal nobody checks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "extensions" / "litellm"
_DYNAMIC_IMPORTERS = frozenset({"import_module", "__import__", "find_spec", "import_string"})


def _is_litellm(name: str | None) -> bool:
    return name is not None and (name == "litellm" or name.startswith("litellm."))


def litellm_imports(source: str, filename: str = "<source>") -> list[str]:
    """``line: statement`` for every import of ``litellm`` in ``source``: import statements,
    ``from`` imports, and ``importlib.import_module``/``__import__``/``find_spec`` on a literal name."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            hits = [alias.name for alias in node.names if _is_litellm(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            hits = [node.module or ""] if node.level == 0 and _is_litellm(node.module) else []
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            first = node.args[0] if node.args else None
            literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            hits = [literal or ""] if name in _DYNAMIC_IMPORTERS and _is_litellm(literal) else []
        else:
            continue
        found += [f"{node.lineno}: {ast.unparse(node)}" for _ in hits[:1]]
    return found


def _python_files() -> list[Path]:
    roots = [REPO / "extensions", REPO / "scripts"]
    skip = ("node_modules", "__pycache__")
    return sorted(p for root in roots for p in root.rglob("*.py") if not any(part in skip for part in p.parts))


def test_no_module_outside_the_package_imports_litellm() -> None:
    offenders = {
        str(path.relative_to(REPO)): hits
        for path in _python_files()
        if not path.is_relative_to(PACKAGE)
        for hits in [litellm_imports(path.read_text(encoding="utf-8"), str(path))]
        if hits
    }
    assert offenders == {}, "import LiteLLM only inside extensions/litellm/: " + repr(offenders)


def test_the_walk_covers_extensions_and_scripts() -> None:
    files = {str(p.relative_to(REPO)) for p in _python_files()}
    assert {"extensions/app.py", "scripts/bench_overhead.py", "extensions/tenancy/data/raw_sql.py"} <= files
    assert any(f.startswith("extensions/litellm/") for f in files)  # the package itself is skipped later, not missed


@pytest.mark.parametrize(
    "source",
    [
        "import litellm",
        "import litellm.proxy.proxy_server as server",
        "import os, litellm",
        "from litellm import Router",
        "from litellm.proxy._types import ProxyException",
        "def f():\n    from litellm.router import Router\n",
        "import importlib\nimportlib.import_module('litellm.proxy.utils')",
        "from importlib import import_module\nimport_module('litellm')",
        "__import__('litellm')",
        "import importlib.util\nimportlib.util.find_spec('litellm.proxy')",
    ],
)
def test_every_form_of_import_is_caught(source: str) -> None:
    assert litellm_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "from extensions import litellm",
        "from extensions.litellm import hash_token",
        "import litellm_proxy_extras",
        "from . import litellm",
        "importlib.import_module('litellm_proxy_extras')",
        "name = 'litellm.proxy'",
    ],
)
def test_atriums_own_package_and_lookalikes_are_not_flagged(source: str) -> None:
    assert litellm_imports(source) == []
