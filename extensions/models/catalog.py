"""Which model an account means by a name, read from this worker's LiteLLM router.

Every lookup is an index lookup in the router (``get_model_list(model_name=...)``), so
the request path stays O(1) however many accounts and deployments the gateway holds.
The router is the state LiteLLM reloads from the database on every worker, so the
catalogue follows model changes exactly when LiteLLM does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from extensions import litellm
from extensions.models.naming import entitled, internal_name, is_internal_of, owner_of, public_name

__all__ = ["deployments_named", "resolve", "visible_name"]


def deployments_named(name: str) -> Sequence[Mapping[str, Any]]:
    router = litellm.llm_router()
    if router is None:
        return ()
    found: Sequence[Mapping[str, Any]] = router.get_model_list(model_name=name) or ()
    return found


def _deployment_by_id(model_id: str) -> Mapping[str, Any] | None:
    router = litellm.llm_router()
    if router is None or not router.has_model_id(model_id):
        return None
    deployment = router.get_deployment(model_id=model_id)
    if deployment is None:
        return None
    dumped: Mapping[str, Any] = deployment.model_dump(exclude_none=True)
    return dumped


def resolve(account_id: str | None, requested: str) -> str | None:
    """The router name ``account_id`` reaches by asking for ``requested``; None: not theirs.

    The account's own model wins over a global model of the same public name. Another
    account's internal name, a global model not published to this account, or an
    unknown name all give None, and so the same "does not exist" answer.
    """
    if account_id is not None:
        own = requested if is_internal_of(account_id, requested) else internal_name(account_id, requested)
        if any(owner_of(d) == account_id for d in deployments_named(own)):
            return own
    deployments = deployments_named(requested)
    if deployments:
        return requested if all(entitled(d, account_id) for d in deployments) else None
    by_id = _deployment_by_id(requested)
    if by_id is not None and entitled(by_id, account_id):
        return requested
    return None


def visible_name(account_id: str | None, listed: str) -> str | None:
    """How a name LiteLLM lists is shown to ``account_id``; None: hide it."""
    resolved = resolve(account_id, listed)
    if resolved is None:
        return None
    return public_name(account_id, resolved) if account_id is not None else resolved
