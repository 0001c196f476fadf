"""Request-body fields a tenant principal may not send, refused before LiteLLM writes anything.

The route policy names them per route (``guards`` in ``routes.toml``); the middleware runs
:func:`check_guards` before dispatch, so a refused request leaves no row behind.

``access_group_ids``: LiteLLM 1.108.7 mirrors the ids into
``LiteLLM_AccessGroupTable.assigned_key_ids`` / ``assigned_team_ids`` with raw SQL and no
ownership check, and auth then grants the key every model of those groups. An access group
cannot belong to an account: every access-group route (``/access_group/*``,
``/v1/access_group*``, ``/v1/unified_access_group*``) is ``super_admin``, so every group is
the operator's, over the operator's shared deployments. A tenant naming one would take the
operator's models, so a non-empty value is refused for every tenant principal (the raw SQL
guard would refuse LiteLLM's attach statement too, but only after the key row was written).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from extensions.errors import TenancyError
from extensions.tenancy.request.context import Principal

__all__ = ["GuardRefused", "check_guards"]


class GuardRefused(TenancyError):
    code = "field_not_allowed"
    status = 403


async def _no_access_groups(value: Any, principal: Principal) -> None:
    if value not in (None, "", []):
        raise GuardRefused(
            "access_group_ids is not available to account principals: access groups are the operator's",
            hint="remove access_group_ids; your account's models are granted through its own model list",
            field="access_group_ids",
        )


async def _never(value: Any, principal: Principal) -> None:
    if value:
        raise GuardRefused("this field is reserved to the super admin", hint="remove it from the request")


_VALIDATORS: dict[str, Callable[[Any, Principal], Awaitable[None]]] = {
    "access_group_ids": _no_access_groups,
    "new_master_key": _never,
}


def _values(body: Any, field: str) -> list[Any]:
    """The field at the top level and inside lists of objects (bulk endpoints)."""
    found: list[Any] = []
    if isinstance(body, dict):
        if field in body:
            found.append(body[field])
        for value in body.values():
            if isinstance(value, list):
                for item in value:
                    found.extend(_values(item, field))
    return found


async def check_guards(guards: tuple[str, ...], body: Any, principal: Principal) -> None:
    for field in guards:
        validator = _VALIDATORS.get(field, _never)  # a guard nobody implemented refuses (fail closed)
        for value in _values(body, field):
            await validator(value, principal)
