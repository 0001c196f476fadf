"""What a tenant principal is shown of a model or credential: its own names, no secrets.

Provider secrets are encrypted in the database by LiteLLM and masked by its credential
endpoints; these functions add the account view on top: internal names become the
public ones, other accounts' entries disappear, and a global model shows only what a
client needs (its name, provider model and capabilities), not the super admin's endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from extensions.models.naming import ACCOUNT_KEY, ENTITLED_KEY, PUBLIC_NAME_KEY, entitled, owner_of, public_name

__all__ = ["present_cost_entry", "present_credential", "present_deployment", "safe_params", "unprefixed"]

_SECRET_MARKERS = ("key", "secret", "token", "password", "credential", "authorization")
_HIDDEN_INFO = frozenset({ACCOUNT_KEY, PUBLIC_NAME_KEY, ENTITLED_KEY})
# model_info fields LiteLLM computes across the whole proxy (listings are read as the system):
# team ids of every account that can use a model. Each account sees its own teams only.
_TEAM_LISTS = ("access_via_team_ids",)
# Who created or changed a global model is the operator's business, not the account's.
_OPERATOR_INFO = frozenset({"created_by", "updated_by", "team_id", "team_public_model_name"})


def safe_params(account_id: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name, value in params.items():
        if name == "litellm_credential_name":
            shown[name] = public_name(account_id, str(value)) if account_id else value
        elif not any(marker in name.lower() for marker in _SECRET_MARKERS):
            shown[name] = value
    return shown


def _safe_info(info: Mapping[str, Any], own_teams: frozenset[str] | None = None, *, own: bool = True) -> dict[str, Any]:
    hidden = _HIDDEN_INFO if own else _HIDDEN_INFO | _OPERATOR_INFO
    shown = {k: v for k, v in info.items() if k not in hidden}
    for field in _TEAM_LISTS:
        if field in shown:
            listed = shown[field] if isinstance(shown[field], list) else []
            shown[field] = [t for t in listed if own_teams is not None and t in own_teams]
    return shown


def present_deployment(
    account_id: str | None, entry: Mapping[str, Any], own_teams: frozenset[str] | None = None
) -> dict[str, Any] | None:
    """A deployment as LiteLLM lists it (``model_name``, ``litellm_params``, ``model_info``).

    ``own_teams``: the account's team ids; team lists LiteLLM computed proxy-wide are cut to them
    (None: cut to nothing).
    """
    info = entry.get("model_info") or {}
    if not isinstance(info, Mapping) or not entitled(info, account_id):
        return None
    shown = dict(entry)
    params = entry.get("litellm_params") or {}
    own = owner_of(info) is not None
    if own:
        name = str(entry.get("model_name"))
        shown["model_name"] = public_name(account_id, name) if account_id else name
        shown["litellm_params"] = safe_params(account_id, params if isinstance(params, Mapping) else {})
    else:
        provider_model = params.get("model") if isinstance(params, Mapping) else None
        shown["litellm_params"] = {"model": provider_model} if provider_model else {}
    shown["model_info"] = _safe_info(info, own_teams, own=own)
    return shown


def present_credential(account_id: str | None, entry: Mapping[str, Any]) -> dict[str, Any] | None:
    info = entry.get("credential_info") or {}
    owner = info.get(ACCOUNT_KEY) if isinstance(info, Mapping) else None
    if account_id is None or owner != account_id:
        return None
    shown = dict(entry)
    shown["credential_name"] = public_name(account_id, str(entry.get("credential_name")))
    shown["credential_info"] = _safe_info(info)
    return shown


def present_cost_entry(
    account_id: str, entry: Mapping[str, Any], own_teams: frozenset[str] | None = None
) -> dict[str, Any]:
    """The cost-map entry LiteLLM registered for one of the account's own deployments (its
    ``model_info`` and prices), as the account sees it: Atrium's markers out, team lists cut."""
    shown: dict[str, Any] = unprefixed(account_id, _safe_info(entry, own_teams))
    return shown


def unprefixed(account_id: str | None, body: Any) -> Any:
    """LiteLLM's messages name internal names; the account sees its own names."""
    if account_id is None or body is None:
        return body
    return json.loads(json.dumps(body).replace(f"{account_id}/", ""))
