"""Invitations: an account admin invites by email; the link works once, expires, and only for
the account that issued it.

Only the sha256 of the token is stored. Acceptance is one UPDATE ... WHERE unused AND
unexpired AND this account RETURNING, so two clicks (or two workers) can never both win.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from extensions.auth.errors import InvitationInvalid
from extensions.auth.login_routing import normalise_email
from extensions.errors import RequestError
from extensions.tenancy.policy.conflicts import email_taken, taken

__all__ = ["Invitation", "InvitationStore", "invitation_ttl_hours"]

ROLES = ("admin", "member")


def invitation_ttl_hours() -> float:
    return float(os.environ.get("ATRIUM_INVITATION_TTL_HOURS") or 72)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # the columns are timestamp without time zone (UTC)


@dataclass(frozen=True)
class Invitation:
    id: str
    account_id: str
    email: str
    role: str
    expires_at: datetime
    accepted_at: datetime | None
    created_by: str | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "email": self.email,
            "role": self.role,
            "expires_at": self.expires_at.isoformat() + "Z",
            "accepted_at": self.accepted_at.isoformat() + "Z" if self.accepted_at else None,
            "created_by": self.created_by,
        }


def _row(row: asyncpg.Record) -> Invitation:
    return Invitation(
        row["id"],
        row["account_id"],
        row["email"],
        row["role"],
        row["expires_at"],
        row["accepted_at"],
        row["created_by"],
    )


class InvitationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(
        self, account_id: str, email: str, role: str, created_by: str | None, hours: float
    ) -> tuple[Invitation, str]:
        email = normalise_email(email)
        if role not in ROLES:
            raise RequestError(f"unknown role {role!r}", hint="use admin or member")
        if await email_taken(email, account_id, self.pool):
            raise taken()  # the generic 409 of every create route: it does not say whose the address is
        token = secrets.token_urlsafe(32)
        row = await self.pool.fetchrow(
            'INSERT INTO "Atrium_Invitation" (id, account_id, email, token_hash, role, expires_at, created_by) '
            "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
            str(uuid.uuid4()),
            account_id,
            email,
            _hash(token),
            role,
            _now() + timedelta(hours=hours),
            created_by,
        )
        return _row(row), token

    async def discard(self, invitation_id: str) -> None:
        await self.pool.execute('DELETE FROM "Atrium_Invitation" WHERE id = $1', invitation_id)

    async def list(self, account_id: str) -> list[Invitation]:
        rows = await self.pool.fetch(
            'SELECT * FROM "Atrium_Invitation" WHERE account_id = $1 ORDER BY created_at DESC', account_id
        )
        return [_row(r) for r in rows]

    async def _why_invalid(self, account_id: str, token: str) -> InvitationInvalid:
        row = await self.pool.fetchrow('SELECT * FROM "Atrium_Invitation" WHERE token_hash = $1', _hash(token))
        if row is None:
            reason = "this invitation link is not valid"
        elif row["account_id"] != account_id:
            reason = "this invitation link is not for this account"
        elif row["accepted_at"] is not None:
            reason = "this invitation link was already used"
        else:
            reason = "this invitation link has expired"
        return InvitationInvalid(reason, hint="ask your account admin for a new invitation")

    async def check(self, account_id: str, token: str) -> Invitation:
        """The pending invitation, without using it up (to show the accept page)."""
        row = await self.pool.fetchrow(
            'SELECT * FROM "Atrium_Invitation" WHERE token_hash = $1 AND account_id = $2 '
            "AND accepted_at IS NULL AND expires_at > $3",
            _hash(token),
            account_id,
            _now(),
        )
        if row is None:
            raise await self._why_invalid(account_id, token)
        return _row(row)

    async def consume(self, account_id: str, token: str) -> Invitation:
        """Use the invitation up: succeeds once, for its own account, before it expires."""
        row = await self.pool.fetchrow(
            'UPDATE "Atrium_Invitation" SET accepted_at = $3 WHERE token_hash = $1 AND account_id = $2 '
            "AND accepted_at IS NULL AND expires_at > $3 RETURNING *",
            _hash(token),
            account_id,
            _now(),
        )
        if row is None:
            raise await self._why_invalid(account_id, token)
        return _row(row)

    async def mark_user(self, invitation_id: str, user_id: str) -> None:
        await self.pool.execute(
            'UPDATE "Atrium_Invitation" SET accepted_user_id = $2 WHERE id = $1', invitation_id, user_id
        )
