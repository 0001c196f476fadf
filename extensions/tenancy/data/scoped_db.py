"""The tenant-scoped wrapper around LiteLLM's Prisma client (``prisma_client.db``).

Installed once at start-up in place of ``prisma_client.db``; every model action LiteLLM
performs (directly, through ``getattr(db, name)`` repositories, inside ``tx()`` and
``batch_()``) goes through it. The scope is read from the tenant context when the
action runs, not when the attribute is fetched, so one wrapper serves every request.

For a restricted principal (anyone but the super admin and the system):

- reads are filtered to the principal's account (``account_id IS NULL`` for a global
  key); a unique lookup that finds another account's row behaves as *not found*;
- creates are stamped with the account, whatever the caller sent;
- updates and deletes only reach the account's rows; ``account_id`` cannot be changed;
- a write that points at a team of another account is refused as *not found*;
- raw SQL goes through :mod:`extensions.tenancy.data.raw_sql`.

Super admin and system principals pass through untouched; rows they create without an
account are stamped by the database triggers (:mod:`extensions.tenancy.data.stamping`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from extensions.errors import NotFound, TenancyError
from extensions.tenancy.data.raw_sql import RAW_METHODS, guard_raw_sql, skipped_result
from extensions.tenancy.data.tables import TABLES, TableClass
from extensions.tenancy.policy.end_users import is_shared_registry_read
from extensions.tenancy.request.context import data_scope
from extensions.tenancy.request.refusals import record_refusal

__all__ = ["ScopedPrisma"]

_TENANT_ACCESSORS: dict[str, str] = {
    name.lower(): name for name, (kind, _) in TABLES.items() if kind is TableClass.TENANT
}
_TEAM_TABLE = "LiteLLM_TeamTable"
_USER_TABLE = "LiteLLM_UserTable"
_READ_FILTERED = ("find_first", "find_first_or_raise", "find_many", "count", "group_by")
_WRITE_FILTERED = ("update_many", "delete_many")
_UNIQUE_READS = ("find_unique", "find_unique_or_raise")


@functools.lru_cache(maxsize=2048)
def _unbound_signature(function: Any) -> inspect.Signature:
    signature = inspect.signature(function)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def _signature(method: Any) -> inspect.Signature:
    """The call signature of a bound action, computed once per function (methods are rebuilt per access)."""
    function = getattr(method, "__func__", None)
    return _unbound_signature(function) if function is not None else inspect.signature(method)


def _record_not_found(table: str) -> Exception:
    from prisma.errors import RecordNotFoundError

    message = f"Record to update not found in {table}."
    record_refusal(NotFound("the record was not found", hint="check the id; it must belong to your account"), message)
    error: Exception = RecordNotFoundError({"user_facing_error": {"error_code": "P2025", "message": message}})
    return error


def _and(where: dict[str, Any] | None, account: str | None) -> dict[str, Any]:
    scope = {"account_id": account}
    return {"AND": [where, scope]} if where else scope


_OPERATOR_ROW_ACTIONS = ("find_unique", "find_unique_or_raise", "find_first", "create", "update", "upsert")


def _is_operator_row(table: str, name: str, kw: dict[str, Any], operator: str | None) -> bool:
    """An action on exactly the operator's own user row (see ``DataScope.operator_user_id``)."""
    if operator is None or table != _USER_TABLE or name not in _OPERATOR_ROW_ACTIONS:
        return False
    if name == "create":
        data = kw.get("data")
        return isinstance(data, dict) and data.get("user_id") == operator
    return kw.get("where") == {"user_id": operator}


def _without_account(name: str, kw: dict[str, Any]) -> dict[str, Any]:
    """The operator's row stays in no account, whichever account the super admin acts in."""

    def clean(data: Any) -> Any:
        return {k: v for k, v in data.items() if k != "account_id"} if isinstance(data, dict) else data

    if name == "upsert":
        data = kw["data"]
        return {**kw, "data": {**data, "create": clean(data.get("create")), "update": clean(data.get("update"))}}
    if "data" in kw:
        return {**kw, "data": clean(kw["data"])}
    return kw


def _visible(row: Any, account: str | None) -> bool:
    return row is not None and getattr(row, "account_id", None) == account


class ScopedActions:
    """Model actions of one tenant-owned table (e.g. ``db.litellm_verificationtoken``)."""

    def __init__(self, actions: Any, table: str, unscoped_db: Any) -> None:
        self._actions = actions
        self._table = table
        self._db = unscoped_db

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._actions, name)
        if not callable(method) or name.startswith("_"):
            return method
        handler = getattr(self, f"_scoped_{name}", None)
        if handler is None and name in _READ_FILTERED + _WRITE_FILTERED:
            handler = self._scoped_filtered
        if handler is None and name in ("create", "create_many", "update", "delete", "upsert"):
            raise AttributeError(name)  # every write must have a scoped implementation
        if handler is None:
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            scope = data_scope()
            if not scope.restricted:
                return await method(*args, **kwargs)
            account = scope.account_id
            bound = _signature(method).bind(*args, **kwargs)
            if is_shared_registry_read(self._table, name, bound.arguments):
                return await method(*args, **kwargs)  # a process-wide cache of every account's ids
            if _is_operator_row(self._table, name, bound.arguments, scope.operator_user_id):
                return await method(**_without_account(name, bound.arguments))
            return await handler(method, name, account, bound.arguments)

        return call

    async def _scoped_filtered(self, method: Any, name: str, account: str | None, kw: dict[str, Any]) -> Any:
        kw["where"] = _and(kw.get("where"), account)
        if "data" in kw:
            kw["data"] = await self._checked_data(kw["data"], account)
        return await method(**kw)

    async def _scoped_find_unique(self, method: Any, name: str, account: str | None, kw: dict[str, Any]) -> Any:
        row = await self._actions.find_unique(**{k: v for k, v in kw.items() if k in ("where", "include")})
        if _visible(row, account):
            return row
        if name.endswith("_or_raise"):
            raise _record_not_found(self._table)
        return None

    _scoped_find_unique_or_raise = _scoped_find_unique

    async def _scoped_create(self, method: Any, name: str, account: str | None, kw: dict[str, Any]) -> Any:
        kw["data"] = {**(await self._checked_data(kw["data"], account)), "account_id": account}
        return await method(**kw)

    async def _scoped_create_many(self, method: Any, name: str, account: str | None, kw: dict[str, Any]) -> Any:
        kw["data"] = [{**(await self._checked_data(d, account)), "account_id": account} for d in kw["data"]]
        return await method(**kw)

    async def _scoped_update(self, method: Any, name: str, account: str | None, kw: dict[str, Any]) -> Any:
        existing = await self._actions.find_unique(where=kw["where"])
        if not _visible(existing, account):
            return None
        kw["data"] = await self._checked_data(kw["data"], account)
        return await method(**kw)

    async def _scoped_delete(self, method: Any, name: str, account: str | None, kw: dict[str, Any]) -> Any:
        existing = await self._actions.find_unique(where=kw["where"])
        if not _visible(existing, account):
            return None
        return await method(**kw)

    async def _scoped_upsert(self, method: Any, name: str, account: str | None, kw: dict[str, Any]) -> Any:
        existing = await self._actions.find_unique(where=kw["where"])
        if existing is not None and not _visible(existing, account):
            raise _record_not_found(self._table)
        data = dict(kw["data"])
        data["create"] = {
            **(await self._checked_data(data.get("create", {}), account)),
            "account_id": account,
        }
        data["update"] = await self._checked_data(data.get("update", {}), account)
        kw["data"] = data
        return await method(**kw)

    async def _checked_data(self, data: dict[str, Any], account: str | None) -> dict[str, Any]:
        """Drop attempts to change the account; refuse references to another account's team."""
        clean = {k: v for k, v in data.items() if k != "account_id"}
        team_id = clean.get("team_id")
        if isinstance(team_id, dict):
            team_id = team_id.get("set")
        if isinstance(team_id, str) and self._table != _TEAM_TABLE:
            team = await self._db.litellm_teamtable.find_unique(where={"team_id": team_id})
            if team is not None and not _visible(team, account):
                raise _record_not_found(_TEAM_TABLE)
        return clean


class _ScopedBatchActions:
    """Queued (synchronous) actions of ``batch_()``; unique writes become scoped ``*_many``."""

    def __init__(self, actions: Any, table: str) -> None:
        self._actions = actions
        self._table = table

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._actions, name)
        if name.startswith("_") or not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            scope = data_scope()
            if not scope.restricted:
                return method(*args, **kwargs)
            account = scope.account_id
            kw = dict(_signature(method).bind(*args, **kwargs).arguments)
            if name in ("update", "delete"):
                target = getattr(self._actions, f"{name}_many")
                scoped = {"where": _and(kw["where"], account)}
                if name == "update":
                    scoped["data"] = {k: v for k, v in kw["data"].items() if k != "account_id"}
                return target(**scoped)
            if name in ("update_many", "delete_many"):
                kw["where"] = _and(kw.get("where"), account)
                if "data" in kw:
                    kw["data"] = {k: v for k, v in kw["data"].items() if k != "account_id"}
                return method(**kw)
            if name == "create":
                kw["data"] = {**kw["data"], "account_id": account}
                return method(**kw)
            if name == "create_many":
                kw["data"] = [{**d, "account_id": account} for d in kw["data"]]
                return method(**kw)
            refused = f"batch {name} on {self._table} is not allowed for tenant principals"
            record_refusal(TenancyError("not available to account principals", hint="ask the super admin"), refused)
            raise PermissionError(refused)

        return call


class _ScopedBatch:
    def __init__(self, batch: Any) -> None:
        self._batch = batch

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._batch, name)
        table = _TENANT_ACCESSORS.get(name)
        return _ScopedBatchActions(attr, table) if table else attr

    async def __aenter__(self) -> _ScopedBatch:
        await self._batch.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._batch.__aexit__(*exc)


class _ScopedTransaction:
    def __init__(self, manager: Any) -> None:
        self._manager = manager

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    async def start(self, *args: Any, **kwargs: Any) -> ScopedPrisma:
        return ScopedPrisma(await self._manager.start(*args, **kwargs))

    async def __aenter__(self) -> ScopedPrisma:
        return ScopedPrisma(await self._manager.__aenter__())

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._manager.__aexit__(*exc)


class ScopedPrisma:
    """Stands in for LiteLLM's ``PrismaWrapper``; forwards everything else unchanged."""

    def __init__(self, db: Any) -> None:
        object.__setattr__(self, "_atrium_inner", db)

    @property
    def atrium_inner(self) -> Any:
        return object.__getattribute__(self, "_atrium_inner")

    def __getattr__(self, name: str) -> Any:
        inner = object.__getattribute__(self, "_atrium_inner")
        attr = getattr(inner, name)
        table = _TENANT_ACCESSORS.get(name)
        if table is not None:
            return ScopedActions(attr, table, inner)
        if name in RAW_METHODS:
            return _guarded_raw(attr, name)
        if name == "tx":
            return lambda *a, **k: _ScopedTransaction(attr(*a, **k))
        if name == "batch_":
            return lambda *a, **k: _ScopedBatch(attr(*a, **k))
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_atrium_inner"), name, value)


def _guarded_raw(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    async def call(query: str, *args: Any, **kwargs: Any) -> Any:
        if not await guard_raw_sql(query, args):
            return skipped_result(name)
        return await method(query, *args, **kwargs)

    return call
