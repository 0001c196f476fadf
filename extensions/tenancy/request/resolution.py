"""Who is calling, and which account they belong to: decided once per request.

Credentials are read the way LiteLLM reads them (every API-key header, through
``extensions.litellm``; the UI session cookie as a fallback). The master key is the super admin, who
may act as one account with ``X-Atrium-Account``. Any other key is looked up by its
hash; the key's ``account_id`` decides the account. Results are cached per process:
a key's account never changes, so key entries live long; an account's status is cached
briefly and dropped at once when the invalidation bus says it changed.

Fail closed: a key of an account that is missing, suspended or deleted is refused.
A key with no account is a *global* key (created by the super admin): it sees only
global rows. An unknown key resolves to anonymous carrying the hash of the key it presented,
so LiteLLM's own lookup of exactly that hash passes the raw SQL guard, finds nothing and
answers LiteLLM's 401 at once (a refused lookup made LiteLLM retry for seconds).
``X-Atrium-Account`` is the super admin's alone: anyone else sending it is refused, not ignored,
so a client that believes it acts as another account learns at once that it does not.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.datastructures import Headers
from starlette.types import Scope

from extensions import litellm
from extensions.errors import AccountInactive, AccountNotResolved, InvalidCredential, TenancyError
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["ACCOUNT_HEADER", "AccountHeaderRefused", "AccountState", "KeyRecord", "TenantResolver"]

log = logging.getLogger("atrium.resolution")

ACCOUNT_HEADER = "x-atrium-account"
_TOKEN_HASH = re.compile(r"^[0-9a-f]{64}$")

_KEY_SQL = """
SELECT v.token, v.account_id, v.user_id, v.team_id, u.user_role,
       (SELECT aa.role FROM "Atrium_AccountAdmin" aa
        WHERE aa.account_id = v.account_id AND aa.user_id = v.user_id) AS account_role
FROM "LiteLLM_VerificationToken" v
LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = v.user_id
WHERE v.token = $1
"""
_ACCOUNT_SQL = 'SELECT account_id, slug, status FROM "Atrium_Account" WHERE account_id = $1 OR slug = $1'


class AccountHeaderRefused(TenancyError):
    code = "account_header_refused"
    status = 403


@dataclass(frozen=True)
class KeyRecord:
    token_hash: str
    account_id: str | None
    user_id: str | None
    team_id: str | None
    user_role: str | None
    account_role: str | None  # Atrium_AccountAdmin.role: "admin", "viewer" or None


@dataclass(frozen=True)
class AccountState:
    account_id: str
    slug: str
    status: str


class _TTLCache:
    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> Any | None:
        entry = self._data.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: str, value: Any) -> None:
        self._data[key] = (time.monotonic() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def drop(self, key: str) -> None:
        self._data.pop(key, None)

    def drop_where(self, predicate: Any) -> None:
        for key in [k for k, (_, v) in self._data.items() if predicate(v)]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()


class TenantResolver:
    def __init__(self, pool: asyncpg.Pool | None = None) -> None:
        self.pool = pool
        self.keys = _TTLCache(ttl=600.0, max_entries=100_000)
        self.accounts = _TTLCache(ttl=30.0, max_entries=10_000)

    # -- invalidation -------------------------------------------------------------------
    async def on_invalidate(self, message: dict[str, Any]) -> None:
        kind, ident = message.get("kind"), message.get("id")
        if kind == "account" and isinstance(ident, str):
            self.accounts.drop(ident)
            self.accounts.drop_where(lambda state: state.account_id == ident)
            self.keys.drop_where(lambda rec: rec.account_id == ident)
        elif kind == "key" and isinstance(ident, str):
            self.keys.drop(ident)
        else:
            self.keys.clear()
            self.accounts.clear()

    # -- lookups ------------------------------------------------------------------------
    async def _key(self, token_hash: str) -> KeyRecord | None:
        cached: KeyRecord | None = self.keys.get(token_hash)
        if cached is not None:
            return cached
        if self.pool is None:
            return None
        row = await self.pool.fetchrow(_KEY_SQL, token_hash)
        if row is None:
            return None  # never cached: a key generated a moment ago on another worker must work
        record = KeyRecord(
            token_hash=row["token"],
            account_id=row["account_id"],
            user_id=row["user_id"],
            team_id=row["team_id"],
            user_role=row["user_role"],
            account_role=row["account_role"],
        )
        self.keys.put(token_hash, record)
        return record

    async def account(self, id_or_slug: str) -> AccountState | None:
        cached: AccountState | None = self.accounts.get(id_or_slug)
        if cached is not None:
            return cached
        if self.pool is None:
            return None
        row = await self.pool.fetchrow(_ACCOUNT_SQL, id_or_slug)
        if row is None:
            return None
        state = AccountState(row["account_id"], row["slug"], row["status"])
        self.accounts.put(id_or_slug, state)
        return state

    # -- resolution ---------------------------------------------------------------------
    def _presented_key(self, scope: Scope, headers: Headers) -> str | None:
        """The credential LiteLLM itself will authenticate, so both decide on the same key."""
        query_key = litellm.api_key_from_query(scope)
        if query_key and litellm.query_key_wins(scope.get("path", "")):
            return query_key
        key = litellm.api_key_from_headers(headers)
        if key:
            return key
        if query_key and litellm.query_key_allowed(scope.get("path", "")):
            return query_key
        return litellm.ui_session_key(headers)

    async def resolve(self, scope: Scope, headers: Headers) -> Principal:
        key = self._presented_key(scope, headers)
        master = litellm.master_key() or os.environ.get("LITELLM_MASTER_KEY")
        if key and master and hmac.compare_digest(key.encode(), master.encode()):
            return await self._super_admin(headers, token_hash=None)
        principal = await self._tenant(key, headers)
        if headers.get(ACCOUNT_HEADER) and not (principal.is_super_admin or principal.acting_as):
            raise AccountHeaderRefused(
                f"only the super admin may send {ACCOUNT_HEADER}",
                hint="remove the header: a key acts in its own account (use the master key to act as another)",
            )
        return principal

    async def _tenant(self, key: str | None, headers: Headers) -> Principal:
        """Everyone but the master key: a virtual key, a UI session, or anonymous."""
        if not key:
            return Principal(PrincipalKind.ANONYMOUS)
        if _TOKEN_HASH.match(key):
            # LiteLLM refuses hashes too, but only after queueing a usage update on the key the
            # hash names; refusing here leaves no trace on someone else's key.
            raise InvalidCredential(
                "a key hash is not a credential", hint="send the API key itself (it starts with sk-)"
            )
        if not key.startswith("sk-"):
            return Principal(PrincipalKind.ANONYMOUS)
        token_hash = litellm.hash_token(key)
        record = await self._key(token_hash)
        if record is None:
            return Principal(PrincipalKind.ANONYMOUS, token_hash=token_hash)
        if record.account_id is None:
            if record.user_role == litellm.ROLE_PROXY_ADMIN:
                return await self._super_admin(headers, token_hash=token_hash, user_id=record.user_id)
            return Principal(PrincipalKind.API_KEY, None, record.user_id, token_hash=token_hash)
        state = await self.account(record.account_id)
        if state is None:
            raise AccountNotResolved("the key's account does not exist", hint="ask your administrator for a new key")
        if state.status != "active":
            raise AccountInactive(
                f"account {state.slug} is {state.status}",
                hint="the account must be reactivated by the super admin before its keys work again",
            )
        # The role decides, not the existence of a row: a viewer never gets the admin's rights.
        if record.account_role == "admin":
            kind = PrincipalKind.ACCOUNT_ADMIN
        elif record.account_role == "viewer":
            kind = PrincipalKind.ACCOUNT_VIEWER
        elif record.team_id == litellm.UI_SESSION_TEAM:
            kind = PrincipalKind.ACCOUNT_MEMBER
        else:
            kind = PrincipalKind.API_KEY
        return Principal(kind, record.account_id, record.user_id, token_hash=token_hash)

    async def _super_admin(self, headers: Headers, *, token_hash: str | None, user_id: str | None = None) -> Principal:
        target = headers.get(ACCOUNT_HEADER)
        if not target:
            return Principal(PrincipalKind.SUPER_ADMIN, None, user_id, token_hash=token_hash)
        state = await self.account(target)
        if state is None or state.status == "deleted":
            raise AccountNotResolved(
                f"no account {target!r} to act as",
                hint=f"check the {ACCOUNT_HEADER} header (account id or slug)",
            )
        log.info("super admin acting as account", extra={"acting_as": state.account_id})
        return Principal(PrincipalKind.ACCOUNT_ADMIN, state.account_id, user_id, acting_as=True, token_hash=token_hash)
