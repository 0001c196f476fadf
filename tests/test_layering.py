"""The HTTP layer sits on top: identity, tenancy, models, egress and db never import routes.

Checked on the source (AST), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = "extensions.routes"
# The foundations every layer may use.
BASE = frozenset({"errors", "settings", "config", "logs", "runtime", "background", "request_body", "litellm"})
# What each package may import from extensions/, besides itself and BASE: the layers from the bottom
# up. tenancy/ knows no feature package (app.py composes the checks that live in auth/ and models/),
# the LiteLLM package knows nothing of Atrium but its errors.
ALLOWED: dict[str, frozenset[str]] = {
    "litellm": frozenset({"errors"}),
    "tenancy": BASE,
    "db": BASE | {"tenancy", "prisma_engine"},
    "models": BASE | {"tenancy"},
    "egress": BASE | {"tenancy", "models"},
    "auth": BASE | {"tenancy", "egress"},
    "observability": BASE | {"tenancy"},
    "budgets": BASE | {"tenancy", "egress", "auth"},
    "audit": BASE | {"tenancy", "auth"},
}
LOWER_LAYERS = tuple(ALLOWED)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str) -> list[str]:
    """Every module an ``import`` / ``from ... import`` names, relative imports resolved."""
    package = module.rsplit(".", 1)[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(target)
            found += [f"{target}.{alias.name}" for alias in node.names]
    return found


def violations(source: str, module: str) -> list[str]:
    return [
        f"{module} imports {name}"
        for name in imported_modules(source, module)
        if name == FORBIDDEN or name.startswith(FORBIDDEN + ".")
    ]


def layer_violations(source: str, module: str) -> list[str]:
    """Imports of an extensions package the module's layer may not use."""
    layer = module.split(".")[1]
    allowed = ALLOWED[layer] | {layer}
    found = []
    for name in imported_modules(source, module):
        parts = name.split(".")
        if parts[0] == "extensions" and len(parts) > 1 and parts[1] not in allowed:
            found.append(f"{module} imports {name} (layer {layer} may use {sorted(allowed)})")
    return found


def test_lower_layers_never_import_the_http_layer() -> None:
    found: list[str] = []
    for layer in LOWER_LAYERS:
        for path in sorted((ROOT / "extensions" / layer).rglob("*.py")):
            found += violations(path.read_text(encoding="utf-8"), _module_name(path))
    assert not found, "\n".join(found)


def test_each_layer_imports_only_the_layers_below() -> None:
    found: list[str] = []
    for layer in LOWER_LAYERS:
        for path in sorted((ROOT / "extensions" / layer).rglob("*.py")):
            found += layer_violations(path.read_text(encoding="utf-8"), _module_name(path))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from extensions.models import provider_objects\n", "extensions.tenancy.request.checks"),
        ("def f():\n    from extensions.auth.throttle import Purpose\n", "extensions.tenancy.policy.guards"),
        ("from extensions import routes\n", "extensions.auth.sessions"),
        ("from ..tenancy.request import context\n", "extensions.litellm._auth"),
    ],
)
def test_the_layer_check_sees_an_upward_import(source: str, module: str) -> None:
    assert layer_violations(source, module)


@pytest.mark.parametrize(
    "source",
    [
        "from extensions.routes.deps import require\n",
        "import extensions.routes.errors\n",
        "from extensions import routes\n",
        "def f():\n    from ...routes import deps\n",
    ],
)
def test_the_check_sees_every_import_form(source: str) -> None:
    assert violations(source, "extensions.tenancy.request.middleware")


def test_imports_within_the_layers_are_fine() -> None:
    source = "from extensions.tenancy.request.context import Principal\nfrom . import context\nimport fastapi\n"
    assert not violations(source, "extensions.tenancy.request.middleware")
