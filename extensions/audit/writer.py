"""Writing entries: who the actor is, what an object looked like before, which chain it goes to.

All reads go straight to PostgreSQL with asyncpg (the audit is written by the gateway itself,
outside any tenant's scope); what is read is redacted before it is stored, and the state of an
object before a change is kept only when the change succeeded (a refused request named an object
the caller may not see).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Final

from extensions.audit.chain import append
from extensions.audit.entries import Actor, AuditEntry, key_ref
from extensions.errors import AtriumError
from extensions.tenancy.request.context import Principal

__all__ = ["OBJECT_TABLES", "AuditWriteFailed", "AuditWriter"]

log = logging.getLogger("atrium.audit")

# Objects whose state before a change is read: object type -> (LiteLLM table, id column).
OBJECT_TABLES: Final = {
    "key": ("LiteLLM_VerificationToken", "token"),
    "team": ("LiteLLM_TeamTable", "team_id"),
    "user": ("LiteLLM_UserTable", "user_id"),
    "model": ("LiteLLM_ProxyModelTable", "model_id"),
}
_CACHE_SIZE: Final = 4096


class AuditWriteFailed(AtriumError):
    code = "audit_write_failed"
    status = 500


class _Lru(OrderedDict[str, Any]):
    def remember(self, key: str, value: Any) -> Any:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _CACHE_SIZE:
            self.popitem(last=False)
        return value


class AuditWriter:
    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._users: _Lru = _Lru()  # user_id -> (email, role): per worker, they rarely change
        self._aliases: _Lru = _Lru()  # token hash -> key alias
        self._columns: dict[str, frozenset[str]] = {}
        self.lock_chain = True  # False only in the test that shows what the lock prevents

    async def actor(self, principal: Principal) -> Actor:
        email = role = alias = None
        async with self.pool.acquire() as conn:
            if principal.user_id is not None:
                if principal.user_id not in self._users:
                    row = await conn.fetchrow(
                        'SELECT user_email, user_role FROM "LiteLLM_UserTable" WHERE user_id = $1', principal.user_id
                    )
                    self._users.remember(
                        principal.user_id, (row["user_email"], row["user_role"]) if row else (None, None)
                    )
                email, role = self._users[principal.user_id]
            if principal.token_hash is not None:
                if principal.token_hash not in self._aliases:
                    alias_row = await conn.fetchval(
                        'SELECT key_alias FROM "LiteLLM_VerificationToken" WHERE token = $1', principal.token_hash
                    )
                    self._aliases.remember(principal.token_hash, alias_row)
                alias = self._aliases[principal.token_hash]
        return Actor(
            kind=str(principal.kind),
            user_id=principal.user_id,
            email=email,
            key_alias=alias,
            key_hash_prefix=key_ref(principal.token_hash) if principal.token_hash else None,
            role=role,
            acting_as=principal.account_id if principal.acting_as else None,
        )

    async def _table_columns(self, conn: Any, table: str) -> frozenset[str]:
        if table not in self._columns:
            rows = await conn.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = $1", table)
            self._columns[table] = frozenset(r["column_name"] for r in rows)
        return self._columns[table]

    async def before(self, object_type: str, ids: list[str], fields: set[str]) -> dict[str, dict[str, Any]]:
        """The rows named by ``ids`` (raw ids: key hashes, not prefixes): the sent fields and account_id."""
        found = OBJECT_TABLES.get(object_type)
        if found is None or not ids:
            return {}
        table, id_column = found
        async with self.pool.acquire() as conn:
            columns = await self._table_columns(conn, table)
            wanted = sorted((fields & columns) | ({"account_id"} & columns) | {id_column})
            select = ", ".join(f'"{c}"' for c in wanted)
            rows = await conn.fetch(f'SELECT {select} FROM "{table}" WHERE "{id_column}" = ANY($1::text[])', ids)
        return {str(row[id_column]): dict(row) for row in rows}

    async def owner(self, object_type: str, ids: list[str]) -> str | None:
        """The account of an object the (unrestricted) super admin touched, when its table says."""
        rows = await self.before(object_type, ids, set())
        owners = {row.get("account_id") for row in rows.values()} - {None}
        return next(iter(owners)) if len(owners) == 1 else None

    async def account_of(self, id_or_slug: str) -> str | None:
        """The account an ``account_id`` field names (an id or a slug), if it exists."""
        async with self.pool.acquire() as conn:
            found: str | None = await conn.fetchval(
                'SELECT account_id FROM "Atrium_Account" WHERE account_id = $1 OR slug = $1 LIMIT 1', id_or_slug
            )
        return found

    @staticmethod
    def failure(request_id: str | None) -> AuditWriteFailed:
        return AuditWriteFailed(
            "the request was handled but its audit entry could not be written",
            hint=f"the change may have been applied; check the object and quote request id {request_id}",
        )

    async def write(self, entry: AuditEntry) -> None:
        try:
            async with self.pool.acquire() as conn:
                await append(conn, entry, lock=self.lock_chain)
        except Exception as exc:
            log.error(
                "audit entry not written", extra={"action": entry.action, "outcome": entry.outcome}, exc_info=True
            )
            raise self.failure(entry.request_id) from exc
