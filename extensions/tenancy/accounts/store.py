"""Accounts (tenants): the store behind the ``/account/*`` API.

Plain asyncpg on Atrium's own tables; every change publishes an invalidation so every
worker and replica sees it at once (suspension within the 2-second promise).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from extensions import litellm
from extensions.errors import Conflict, NotFound, RequestError, echo
from extensions.tenancy.accounts.invalidation import InvalidationBus

__all__ = ["STATUSES", "Account", "AccountStore", "normalise_domain", "slugify"]

STATUSES = ("active", "suspended", "deleted")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_DOMAIN_RE = re.compile(r"^(?=.{3,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass
class Account:
    account_id: str
    name: str
    slug: str
    status: str
    settings: dict[str, Any]
    email_domains: list[str] = field(default_factory=list)
    admins: list[dict[str, Any]] = field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]


def normalise_domain(domain: str) -> str:
    cleaned = domain.strip().lower().lstrip("@")
    if not _DOMAIN_RE.match(cleaned):
        raise RequestError(f"{echo(domain)} is not a valid email domain", hint="use a bare domain such as example.com")
    return cleaned


def _check_slug(slug: str, *, derived: bool = False) -> str:
    if not _SLUG_RE.match(slug):
        raise RequestError(
            f"the slug derived from the name, {echo(slug)}, is not a valid slug"
            if derived
            else f"{echo(slug)} is not a valid slug",
            hint=("pass a slug explicitly; " if derived else "")
            + "2-63 characters: lowercase letters, digits and dashes, starting with a letter or digit",
        )
    return slug


class AccountStore:
    def __init__(self, pool: asyncpg.Pool, bus: InvalidationBus | None) -> None:
        self.pool = pool
        self.bus = bus

    async def _changed(self, account_id: str) -> None:
        if self.bus is not None:
            await self.bus.publish({"kind": "account", "id": account_id})

    async def _load(self, conn: asyncpg.Connection, id_or_slug: str) -> Account:
        row = await conn.fetchrow('SELECT * FROM "Atrium_Account" WHERE account_id = $1 OR slug = $1', id_or_slug)
        if row is None:
            raise NotFound(
                f"account {echo(id_or_slug)} not found", hint="pass an account id or slug from /account/list"
            )
        domains = await conn.fetch(
            'SELECT domain FROM "Atrium_AccountDomain" WHERE account_id = $1 ORDER BY domain',
            row["account_id"],
        )
        admins = await conn.fetch(
            'SELECT user_id, role FROM "Atrium_AccountAdmin" WHERE account_id = $1 ORDER BY user_id',
            row["account_id"],
        )
        return Account(
            account_id=row["account_id"],
            name=row["name"],
            slug=row["slug"],
            status=row["status"],
            settings=json.loads(row["settings"]) if isinstance(row["settings"], str) else row["settings"],
            email_domains=[d["domain"] for d in domains],
            admins=[dict(a) for a in admins],
            created_at=row["created_at"].isoformat(),
            updated_at=row["updated_at"].isoformat(),
        )

    async def get(self, id_or_slug: str) -> Account:
        async with self.pool.acquire() as conn:
            return await self._load(conn, id_or_slug)

    async def list_accounts(self, status: str | None = None) -> list[Account]:
        if status is not None and status not in STATUSES:
            raise RequestError(f"unknown status {echo(status)}", hint=f"use one of {', '.join(STATUSES)}")
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                'SELECT account_id FROM "Atrium_Account" WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at',
                status,
            )
            return [await self._load(conn, r["account_id"]) for r in rows]

    async def _set_domains(self, conn: asyncpg.Connection, account_id: str, domains: list[str]) -> None:
        cleaned = sorted({normalise_domain(d) for d in domains})
        taken = await conn.fetch(
            'SELECT domain FROM "Atrium_AccountDomain" WHERE domain = ANY($1::text[]) AND account_id <> $2',
            cleaned,
            account_id,
        )
        if taken:
            raise Conflict(
                f"email domain {taken[0]['domain']} already belongs to another account",
                hint="each email domain can belong to one account only",
            )
        await conn.execute('DELETE FROM "Atrium_AccountDomain" WHERE account_id = $1', account_id)
        await conn.executemany(
            'INSERT INTO "Atrium_AccountDomain" (domain, account_id) VALUES ($1, $2)',
            [(d, account_id) for d in cleaned],
        )

    async def create(
        self,
        *,
        name: str,
        slug: str | None,
        email_domains: list[str],
        settings: dict[str, Any],
        created_by: str | None,
    ) -> Account:
        if not name.strip():
            raise RequestError("name must not be empty", hint="give the account a display name")
        derived = not slug
        slug = _check_slug(slug or slugify(name), derived=derived)
        account_id = str(uuid.uuid4())
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                await conn.execute(
                    'INSERT INTO "Atrium_Account" (account_id, name, slug, settings, created_by) '
                    "VALUES ($1, $2, $3, $4::jsonb, $5)",
                    account_id,
                    name.strip(),
                    slug,
                    json.dumps(settings),
                    created_by,
                )
            except asyncpg.UniqueViolationError as exc:
                if derived:
                    raise Conflict(
                        f"the slug derived from the name, {echo(slug)}, is already taken",
                        hint="pass another slug explicitly, or choose another name",
                    ) from exc
                raise Conflict(f"slug {echo(slug)} is already taken", hint="choose another slug") from exc
            await self._set_domains(conn, account_id, email_domains)
            return await self._load(conn, account_id)

    async def update(
        self,
        id_or_slug: str,
        *,
        name: str | None,
        slug: str | None,
        email_domains: list[str] | None,
        settings: dict[str, Any] | None,
    ) -> Account:
        async with self.pool.acquire() as conn, conn.transaction():
            account = await self._load(conn, id_or_slug)
            try:
                await conn.execute(
                    'UPDATE "Atrium_Account" SET name = COALESCE($2, name), slug = COALESCE($3, slug), '
                    "settings = COALESCE($4::jsonb, settings), updated_at = now() WHERE account_id = $1",
                    account.account_id,
                    name.strip() if name else None,
                    _check_slug(slug) if slug else None,
                    json.dumps(settings) if settings is not None else None,
                )
            except asyncpg.UniqueViolationError as exc:
                raise Conflict(f"slug {echo(slug)} is already taken", hint="choose another slug") from exc
            if email_domains is not None:
                await self._set_domains(conn, account.account_id, email_domains)
            updated = await self._load(conn, account.account_id)
        await self._changed(updated.account_id)
        return updated

    async def set_status(self, id_or_slug: str, status: str) -> Account:
        if status not in STATUSES:
            raise RequestError(f"unknown status {echo(status)}", hint=f"use one of {', '.join(STATUSES)}")
        async with self.pool.acquire() as conn:
            account = await self._load(conn, id_or_slug)
            if account.status == "deleted" and status != "deleted":
                raise Conflict(
                    f"account {account.slug} is deleted",
                    hint="deleted accounts keep their data but cannot return",
                )
            await conn.execute(
                'UPDATE "Atrium_Account" SET status = $2, updated_at = now() WHERE account_id = $1',
                account.account_id,
                status,
            )
            updated = await self._load(conn, account.account_id)
        await self._changed(updated.account_id)
        return updated

    async def add_admin(self, id_or_slug: str, user_id: str, role: str, created_by: str | None) -> Account:
        if role not in ("admin", "viewer"):
            raise RequestError(f"unknown role {echo(role)}", hint="use admin or viewer")
        async with self.pool.acquire() as conn, conn.transaction():
            account = await self._load(conn, id_or_slug)
            user = await conn.fetchrow(
                'SELECT user_id, account_id FROM "LiteLLM_UserTable" WHERE user_id = $1', user_id
            )
            if user is None:
                # The admin's LiteLLM user is created inside the account.
                await conn.execute(
                    'INSERT INTO "LiteLLM_UserTable" (user_id, user_role, account_id) VALUES ($1, $2, $3)',
                    user_id,
                    litellm.ROLE_PROXY_ADMIN if role == "admin" else litellm.ROLE_PROXY_ADMIN_VIEWER,
                    account.account_id,
                )
            elif user["account_id"] != account.account_id:
                raise Conflict(
                    f"user {user_id} belongs to another account", hint="a user belongs to exactly one account"
                )
            else:
                # LiteLLM checks its own role on management routes; Atrium confines it to the account.
                await conn.execute(
                    'UPDATE "LiteLLM_UserTable" SET user_role = $2 WHERE user_id = $1',
                    user_id,
                    litellm.ROLE_PROXY_ADMIN if role == "admin" else litellm.ROLE_PROXY_ADMIN_VIEWER,
                )
            await conn.execute(
                'INSERT INTO "Atrium_AccountAdmin" (id, account_id, user_id, role, created_by) '
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, user_id) DO UPDATE SET role = EXCLUDED.role",
                str(uuid.uuid4()),
                account.account_id,
                user_id,
                role,
                created_by,
            )
            updated = await self._load(conn, account.account_id)
        await self._changed(updated.account_id)
        return updated

    async def remove_admin(self, id_or_slug: str, user_id: str) -> Account:
        async with self.pool.acquire() as conn, conn.transaction():
            account = await self._load(conn, id_or_slug)
            deleted = await conn.execute(
                'DELETE FROM "Atrium_AccountAdmin" WHERE account_id = $1 AND user_id = $2',
                account.account_id,
                user_id,
            )
            if deleted.endswith(" 0"):
                raise NotFound(f"user {user_id} is not an admin of account {account.slug}", hint="see /account/info")
            await conn.execute(
                'UPDATE "LiteLLM_UserTable" SET user_role = $3 WHERE user_id = $1 AND account_id = $2',
                user_id,
                account.account_id,
                litellm.ROLE_INTERNAL_USER,
            )
            updated = await self._load(conn, account.account_id)
        await self._changed(updated.account_id)
        return updated
