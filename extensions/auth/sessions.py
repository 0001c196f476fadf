"""From a verified identity to a LiteLLM UI session scoped to the account.

``provision`` finds or creates (just in time) the user inside the account and applies the
role mapping; ``mint`` creates LiteLLM's own session (a virtual key in team
``litellm-dashboard`` + the HS256 cookie) through ``extensions.litellm``. The key row is stamped with
the user's ``account_id`` by the database, so the tenant resolver maps the session to the
account like any password login. A user belongs to exactly one account: an identity whose
user lives in another account is refused, whatever the IdP says.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass

import asyncpg
from fastapi import Request
from fastapi.responses import RedirectResponse

from extensions import litellm
from extensions.auth.errors import LoginRejected
from extensions.tenancy.accounts.store import AccountStore

__all__ = [
    "Identity",
    "landing_url",
    "mint_session_redirect",
    "provision",
    "provision_super_admin",
    "super_admin_emails",
]

log = logging.getLogger("atrium.auth.sessions")

ROLE_ADMIN = "admin"
ROLE_MEMBER = "member"
_SSO_GRANTED = "sso-role-mapping"  # created_by of admin rows the role mapping owns


@dataclass(frozen=True)
class Identity:
    user_id: str
    email: str
    user_role: str  # LiteLLM role
    account_id: str | None


def super_admin_emails() -> frozenset[str]:
    raw = os.environ.get("SUPER_ADMIN_EMAILS", "")
    return frozenset(e.strip().lower() for e in raw.split(",") if e.strip())


async def _account_status(conn: asyncpg.Connection, account_id: str) -> str | None:
    status: str | None = await conn.fetchval('SELECT status FROM "Atrium_Account" WHERE account_id = $1', account_id)
    return status


async def check_account_active(pool: asyncpg.Pool, account_id: str) -> None:
    async with pool.acquire() as conn:
        status = await _account_status(conn, account_id)
    if status != "active":
        raise LoginRejected(
            f"the account is {status or 'missing'}",
            hint="the super admin must reactivate the account before anyone can sign in; no session was created",
            reason="account_inactive",
        )


async def provision(
    pool: asyncpg.Pool, accounts: AccountStore, *, account_id: str, email: str, role: str | None
) -> Identity:
    """The account's user for ``email``, created on first login; ``role`` None keeps the current role."""
    email = email.strip().lower()
    await check_account_active(pool, account_id)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            'SELECT user_id, account_id, user_role FROM "LiteLLM_UserTable" WHERE lower(user_email) = $1', email
        )
        if any(r["account_id"] != account_id for r in rows):
            raise LoginRejected(
                f"{email} belongs to another account",
                hint="a user belongs to exactly one account; ask the super admin to move the user",
                reason="user_of_another_account",
            )
        if rows:
            user_id: str = rows[0]["user_id"]
        else:
            user_id = f"{email.split('@', 1)[0]}-{uuid.uuid4().hex[:8]}"
            await conn.execute(
                'INSERT INTO "LiteLLM_UserTable" (user_id, user_email, user_role, account_id) VALUES ($1, $2, $3, $4)',
                user_id,
                email,
                litellm.ROLE_INTERNAL_USER,
                account_id,
            )
            log.info("user provisioned", extra={"user_id": user_id, "account": account_id})
        admin_row = await conn.fetchrow(
            'SELECT created_by FROM "Atrium_AccountAdmin" WHERE account_id = $1 AND user_id = $2', account_id, user_id
        )
    if role == ROLE_ADMIN and admin_row is None:
        await accounts.add_admin(account_id, user_id, "admin", _SSO_GRANTED)
    elif role == ROLE_MEMBER and admin_row is not None and admin_row["created_by"] == _SSO_GRANTED:
        # The IdP took the admin group away: the mapping removes what it granted, nothing else.
        await accounts.remove_admin(account_id, user_id)
    user_role = await pool.fetchval('SELECT user_role FROM "LiteLLM_UserTable" WHERE user_id = $1', user_id)
    return Identity(user_id, email, str(user_role or litellm.ROLE_INTERNAL_USER), account_id)


async def provision_super_admin(pool: asyncpg.Pool, email: str) -> Identity:
    """A global proxy_admin user (no account): the resolver makes its sessions super admin."""
    email = email.strip().lower()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            'SELECT user_id, account_id FROM "LiteLLM_UserTable" WHERE user_id = $1 OR lower(user_email) = $1', email
        )
        if row is not None and row["account_id"] is not None:
            raise LoginRejected(
                f"{email} is a user of an account and cannot also be a super admin",
                hint="use a separate address for super admin work",
                reason="user_of_another_account",
            )
        await conn.execute(
            'INSERT INTO "LiteLLM_UserTable" (user_id, user_email, user_role) VALUES ($1, $1, $2) '
            "ON CONFLICT (user_id) DO UPDATE SET user_role = EXCLUDED.user_role",
            email,
            litellm.ROLE_PROXY_ADMIN,
        )
    log.info("super admin signed in", extra={"user_id": email})
    return Identity(email, email, litellm.ROLE_PROXY_ADMIN, None)


def landing_url(request: Request) -> str:
    base = os.environ.get("ATRIUM_PUBLIC_URL") or str(request.base_url)
    return base.rstrip("/") + "/ui/?login=success"


async def mint_session_redirect(request: Request, identity: Identity) -> RedirectResponse:
    """LiteLLM's own UI session for ``identity``, as a redirect to the UI with the cookie set."""
    _key, jwt_token = await litellm.mint_ui_session(
        user_id=identity.user_id, user_email=identity.email, user_role=identity.user_role
    )
    response = RedirectResponse(landing_url(request), status_code=303)
    litellm.set_ui_session_cookie(response, request, jwt_token)
    return response
