"""Ownership facts read from the database: the authority across workers and replicas."""

from __future__ import annotations

import json
from typing import Any

from extensions.models.naming import ACCOUNT_KEY
from extensions.runtime import runtime

__all__ = ["account_team_ids", "credential_owner", "key_aliases", "model_owner"]


def _pool() -> Any:
    return runtime.require_pool("models")


def _as_dict(value: Any) -> dict[str, Any]:
    for _ in range(2):  # asyncpg returns jsonb as text; LiteLLM may have stored a JSON string in it
        if not isinstance(value, str):
            break
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


async def model_owner(model_id: str) -> str | None:
    """The account owning DB model ``model_id``; None when it is global or does not exist."""
    row = await _pool().fetchrow(
        'SELECT account_id, model_info FROM "LiteLLM_ProxyModelTable" WHERE model_id = $1', model_id
    )
    if row is None:
        return None
    owner = row["account_id"] or _as_dict(row["model_info"]).get(ACCOUNT_KEY)
    return owner if isinstance(owner, str) else None


async def credential_owner(credential_name: str) -> str | None:
    row = await _pool().fetchrow(
        'SELECT account_id, credential_info FROM "LiteLLM_CredentialsTable" WHERE credential_name = $1',
        credential_name,
    )
    if row is None:
        return None
    owner = row["account_id"] or _as_dict(row["credential_info"]).get(ACCOUNT_KEY)
    return owner if isinstance(owner, str) else None


async def account_team_ids(account_id: str | None) -> frozenset[str]:
    """The account's team ids (a global key's are the teams without an account)."""
    rows = await _pool().fetch(
        'SELECT team_id FROM "LiteLLM_TeamTable" WHERE account_id IS NOT DISTINCT FROM $1', account_id
    )
    return frozenset(row["team_id"] for row in rows)


async def key_aliases(token_hash: str | None) -> dict[str, str]:
    """The model aliases a key may list: its team's ``model_aliases`` and its own ``aliases``.

    LiteLLM's ``/v1/models`` lists both (``caller_alias_maps``: the team's count for the key's
    own team), the key's own winning where both name an alias.
    """
    if not token_hash:
        return {}
    row = await _pool().fetchrow(
        """
        SELECT v.aliases AS key_aliases, m.aliases AS team_aliases
        FROM "LiteLLM_VerificationToken" v
        LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = v.team_id
        LEFT JOIN "LiteLLM_ModelTable" m ON m.id = t.model_id
        WHERE v.token = $1
        """,
        token_hash,
    )
    if row is None:
        return {}
    merged = {**_as_dict(row["team_aliases"]), **_as_dict(row["key_aliases"])}
    return {k: v for k, v in merged.items() if isinstance(k, str) and isinstance(v, str) and k and v}
