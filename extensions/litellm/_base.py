"""What every concern module of the package shares: the record of one internal and its lookup.

Each private module lists the internals it touches in its own ``INTERNALS`` tuple, next to the
code that uses them, so the list cannot drift from the code; ``_contract`` joins them.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extensions.errors import CompatibilityError

__all__ = ["Internal", "package_dir", "proxy_server", "resolve"]


@dataclass(frozen=True)
class Internal:
    """One LiteLLM internal Atrium relies on: where it lives and the shape we expect."""

    module: str
    attribute: str
    parameters: tuple[str, ...] | None = None  # None: not a callable we call or override
    # A constant Atrium spells itself (to keep imports cheap) must still equal LiteLLM's own value.
    value: str | int | None = None


def resolve(internal: Internal) -> Any:
    target: Any = importlib.import_module(internal.module)
    for part in internal.attribute.split("."):
        target = getattr(target, part)
    return target


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise CompatibilityError(f"package {module!r} is not installed", hint="run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def proxy_server() -> Any:
    # Imported at call time: importing the proxy module builds LiteLLM's whole app.
    return importlib.import_module("litellm.proxy.proxy_server")
