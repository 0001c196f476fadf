"""LiteLLM's model cost map: the packaged catalogue apart from what deployments registered at runtime.

``litellm.model_cost`` is the catalogue plus an entry per deployment LiteLLM registers when it
loads a model (``Router._register_deployment_in_model_cost``: the deployment's id, with its
``model_info``, and its provider model names). ``GetModelCostMap.loaded_model_cost_map()`` is the
catalogue as last loaded (bundled or fetched), untouched by those registrations: what LiteLLM itself
serves for ``/public/litellm_model_cost_map?catalog_only=true``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final

from extensions.litellm._base import Internal

__all__ = ["INTERNALS", "catalog_cost_map", "runtime_cost_entry"]

_COST_MAP: Final = "litellm.litellm_core_utils.get_model_cost_map"

INTERNALS: tuple[Internal, ...] = (
    Internal(_COST_MAP, "GetModelCostMap.loaded_model_cost_map", ()),
    Internal("litellm", "model_cost"),
    Internal("litellm.router", "Router._register_deployment_in_model_cost"),
)


def catalog_cost_map() -> Mapping[str, Mapping[str, Any]]:
    """The catalogue as loaded (read-only; replaced as a whole when LiteLLM reloads it)."""
    found: Mapping[str, Mapping[str, Any]] = importlib.import_module(_COST_MAP).GetModelCostMap.loaded_model_cost_map()
    return found


def runtime_cost_entry(model_id: str) -> Mapping[str, Any] | None:
    """The entry LiteLLM registered for deployment ``model_id`` (None when it registered none)."""
    entry = importlib.import_module("litellm").model_cost.get(model_id)
    return entry if isinstance(entry, Mapping) else None
