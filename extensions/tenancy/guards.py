"""Request-body fields a tenant principal may send only after Atrium validates them.

The route policy names them per route (``guards`` in ``routes.toml``). LiteLLM writes
some of them with raw SQL and no ownership check (``access_group_ids`` is mirrored into
``LiteLLM_AccessGroupTable``), so without this check one account could attach its key
to another account's access group and inherit its models.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from extensions.errors import RequestError, TenancyError
from extensions.runtime import runtime
from extensions.tenancy.context import TenantContext

__all__ = ["GuardRefused", "check_guards"]


class GuardRefused(TenancyError):
    code = "field_not_allowed"
    status = 403


async def _own_access_groups(value: Any, ctx: TenantContext) -> None:
    ids = [value] if isinstance(value, str) else list(value or [])
    if not ids:
        return
    if not all(isinstance(i, str) for i in ids):
        raise RequestError("access_group_ids must be a list of strings", hint='send e.g. ["group-id"]')
    owned = 0
    if runtime.pool is not None:
        owned = await runtime.pool.fetchval(
            'SELECT count(*) FROM "LiteLLM_AccessGroupTable" WHERE access_group_id = ANY($1::text[]) '
            "AND account_id IS NOT DISTINCT FROM $2",
            ids,
            ctx.account_id,
        )
    if owned != len(set(ids)):
        raise GuardRefused(
            "access_group_ids names an access group this account does not have",
            hint="list your account's access groups and use their ids",
        )


async def _never(value: Any, ctx: TenantContext) -> None:
    if value:
        raise GuardRefused("this field is reserved to the super admin", hint="remove it from the request")


_VALIDATORS: dict[str, Callable[[Any, TenantContext], Awaitable[None]]] = {
    "access_group_ids": _own_access_groups,
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


async def check_guards(guards: tuple[str, ...], body: Any, ctx: TenantContext) -> None:
    for field in guards:
        validator = _VALIDATORS.get(field, _never)
        for value in _values(body, field):
            await validator(value, ctx)
