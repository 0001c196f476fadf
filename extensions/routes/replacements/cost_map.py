"""``GET /public/litellm_model_cost_map`` for everyone but the super admin.

LiteLLM answers ``litellm.model_cost`` without credentials, and that map holds an entry for
every deployment LiteLLM loaded: each account's model ids (with their ``model_info``) and the
provider model names of its deployments. Atrium answers the packaged catalogue instead (what
LiteLLM serves for ``catalog_only=true``), and a tenant principal also the entries of its own
account's models, keyed by their public names (the UI looks a model's provider up by the name
it shows). ``catalog_only=true`` keeps LiteLLM's meaning: the catalogue alone. The super admin
is not subject to the policy and keeps LiteLLM's answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from extensions import litellm
from extensions.models import store
from extensions.models.naming import ACCOUNT_KEY, public_name
from extensions.models.presentation import present_cost_entry
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.scope import pool
from extensions.tenancy.request.context import peek_principal

__all__ = ["get_cost_map_router"]

_serialized: tuple[Mapping[str, Any], bytes] | None = None  # the catalogue last serialized, and its JSON


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _catalogue() -> tuple[Mapping[str, Any], bytes]:
    """The catalogue and its JSON, serialized once per load (LiteLLM replaces the map on reload)."""
    global _serialized
    catalogue = litellm.catalog_cost_map()
    if _serialized is None or _serialized[0] is not catalogue:
        _serialized = (catalogue, json.dumps(catalogue, default=_jsonable).encode())
    return _serialized


async def _own_entries(account_id: str) -> dict[str, Any]:
    rows = await pool().fetch(
        'SELECT model_id, model_name FROM "LiteLLM_ProxyModelTable" '
        f"WHERE account_id = $1 OR (account_id IS NULL AND model_info::jsonb ->> '{ACCOUNT_KEY}' = $1) "
        "ORDER BY model_name, model_id",
        account_id,
    )
    teams = await store.account_team_ids(account_id)
    entries: dict[str, Any] = {}
    for row in rows:
        entry = litellm.runtime_cost_entry(row["model_id"])  # registered once this worker loaded it
        if entry is not None:
            entries.setdefault(public_name(account_id, row["model_name"]), present_cost_entry(account_id, entry, teams))
    return entries


def get_cost_map_router() -> APIRouter:
    router = APIRouter()

    @router.get("/public/litellm_model_cost_map", openapi_extra=serves("model_cost_map"))
    async def model_cost_map(catalog_only: bool = False) -> Response:
        catalogue, body = _catalogue()
        principal = peek_principal()
        account_id = principal.account_id if principal is not None else None
        own = {} if catalog_only or account_id is None else await _own_entries(account_id)
        if own:
            if any(name in catalogue for name in own):
                merged = {**catalogue, **own}  # the account's model wins its own name, as in LiteLLM
                body = json.dumps(merged, default=_jsonable).encode()
            else:
                extra = json.dumps(own, default=_jsonable).encode()
                body = body[:-1] + (b", " if len(catalogue) else b"") + extra[1:]
        return Response(content=body, media_type="application/json")

    return router
