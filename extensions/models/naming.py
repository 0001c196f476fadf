"""How an account's model deployments are named and marked inside LiteLLM.

An account's deployment is an ordinary LiteLLM DB model named ``<account_id>/<public>``,
so two accounts can both call their model ``gpt-4o`` without sharing a router group
(groups share load balancing, fallbacks and cooldowns). Ownership is also written into
``model_info`` so every worker knows it from its in-memory router, without a DB read
on the request path; the database column ``account_id`` is stamped from it by a trigger.
Credentials follow the same scheme (``<account_id>/<name>``, ``credential_info``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ACCOUNT_KEY",
    "ENTITLED_KEY",
    "FALLBACKS_KEY",
    "PUBLIC_NAME_KEY",
    "RESERVED_KEYS",
    "account_of_name",
    "entitled",
    "internal_name",
    "is_internal_of",
    "owner_of",
    "public_name",
]

ACCOUNT_KEY = "atrium_account_id"  # model_info / credential_info: the owning account
PUBLIC_NAME_KEY = "atrium_public_name"  # model_info: the name the account's clients use
ENTITLED_KEY = "atrium_accounts"  # model_info of a global model: accounts allowed (absent: all)
FALLBACKS_KEY = "atrium_fallbacks"  # model_info: the account's own fallback models, public names
RESERVED_KEYS = frozenset({ACCOUNT_KEY, PUBLIC_NAME_KEY, ENTITLED_KEY})  # set by Atrium or the super admin only
# Account ids are UUIDs, so an internal name says whose it is even if model_info were lost.
_INTERNAL_NAME = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/")


def internal_name(account_id: str, public: str) -> str:
    return f"{account_id}/{public}"


def is_internal_of(account_id: str, name: str) -> bool:
    return name.startswith(f"{account_id}/")


def account_of_name(name: str) -> str | None:
    """The account whose internal name this is, or None for any other name."""
    found = _INTERNAL_NAME.match(name)
    return found.group(1) if found else None


def public_name(account_id: str, name: str) -> str:
    prefix = f"{account_id}/"
    return name[len(prefix) :] if name.startswith(prefix) else name


def _info(deployment_or_info: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not deployment_or_info:
        return {}
    nested = deployment_or_info.get("model_info")
    if isinstance(nested, Mapping):
        return nested
    return deployment_or_info


def owner_of(deployment_or_info: Mapping[str, Any] | None) -> str | None:
    """The owning account of a deployment (or of its ``model_info``); None for a global model."""
    owner = _info(deployment_or_info).get(ACCOUNT_KEY)
    if isinstance(owner, str) and owner:
        return owner
    name = (deployment_or_info or {}).get("model_name")
    match = _INTERNAL_NAME.match(name) if isinstance(name, str) else None
    return match.group(1) if match else None


def entitled(deployment_or_info: Mapping[str, Any] | None, account_id: str | None) -> bool:
    """May ``account_id`` use this deployment? Its own, or a global one published to it.

    ``account_id`` None is a global key (no account): global models open to all only.
    """
    owner = owner_of(deployment_or_info)
    if owner is not None:
        return owner == account_id
    allowed = _info(deployment_or_info).get(ENTITLED_KEY)
    if allowed is None:
        return True
    return account_id is not None and isinstance(allowed, list) and account_id in allowed
