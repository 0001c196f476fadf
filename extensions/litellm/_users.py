"""LiteLLM's ``GET /user/info`` admin view, built from rows Atrium read for one account.

For a proxy admin without ``user_id``, LiteLLM answers every team and every key of the proxy,
read with one raw ``json_agg`` (``_get_user_info_for_proxy_admin``). Atrium reads the same rows of
the caller's account and hands them to LiteLLM's own models and key processing here, so the body
the Internal Users page parses is LiteLLM's.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from extensions.litellm._base import Internal

__all__ = ["INTERNALS", "admin_user_info"]

_TYPES: Final = "litellm.proxy._types"
_USERS: Final = "litellm.proxy.management_endpoints.internal_user_endpoints"

INTERNALS: tuple[Internal, ...] = (
    # The branch this mirrors, and the statement it replaces (its keys skip UI session keys).
    Internal(_USERS, "_get_user_info_for_proxy_admin", ("user_api_key_dict",)),
    Internal(_USERS, "_fetch_admin_teams_and_keys_rows", ("prisma_client", "sql_query")),
    Internal(_USERS, "_process_keys_for_user_info", ("keys", "all_teams")),
    Internal(_TYPES, "LiteLLM_VerificationToken"),
    Internal(_TYPES, "LiteLLM_TeamTable"),
    Internal(_TYPES, "UserInfoResponse"),
)


def admin_user_info(
    *,
    user_id: str | None,
    user_info: Mapping[str, Any] | None,
    team_rows: Sequence[Mapping[str, Any]],
    key_rows: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """``_get_user_info_for_proxy_admin``'s body for these rows (``user_info`` without its password)."""
    types = importlib.import_module(_TYPES)
    users = importlib.import_module(_USERS)
    keys = []
    for row in key_rows:
        payload = dict(row)
        if payload.get("models") is None:
            payload["models"] = []
        keys.append(types.LiteLLM_VerificationToken.model_validate(payload))
    teams = sorted(
        (types.LiteLLM_TeamTable.model_validate(dict(row)) for row in team_rows),
        key=lambda team: getattr(team, "team_alias", "") or "",
    )
    shown_user = {k: v for k, v in user_info.items() if k != "password"} if user_info is not None else None
    response = types.UserInfoResponse(
        user_id=user_id,
        user_info=shown_user,
        keys=users._process_keys_for_user_info(keys=keys, all_teams=teams),
        teams=teams,
    )
    dumped: dict[str, Any] = response.model_dump(mode="json")
    return dumped
