"""Client-chosen identifiers that LiteLLM keeps in one global namespace.

Team, user, budget and memory ids, user emails and custom key values are unique across the
whole database, but a tenant's lookups only see its own account. Without this check,
creating an object whose id exists in *another* account fails deep inside LiteLLM with a
unique-constraint 500 while a fresh id succeeds (an existence oracle), and a user created
with another account's email takes over that address's password and SSO sign-in.

The middleware runs :func:`check_conflicts` before LiteLLM for the routes in :data:`CLAIMS`:

- ``FRESH`` values (the id of the object being created) must not exist anywhere: one
  generic 409, the same body whether the holder is the caller's account or another;
- ``NOT_ELSEWHERE`` values (a member added by id or email, an existing budget) may name the
  account's own row but never another account's: the same 409.

Emails compare case-insensitively (LiteLLM's ``/login`` matches them so), and an address in
a domain another account has claimed is also taken: its people belong to that account.
End-user ids are compared in their per-account form (:mod:`extensions.tenancy.policy.end_users`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from extensions import litellm
from extensions.errors import Conflict
from extensions.runtime import runtime
from extensions.tenancy.policy.end_users import internal_id
from extensions.tenancy.request.context import TenantContext

__all__ = ["CLAIMS", "Claim", "IdTaken", "Mode", "check_conflicts", "email_taken", "taken"]


class IdTaken(Conflict):
    code = "already_exists"
    status = 409


class Mode(Enum):
    FRESH = "fresh"  # the new object's own id: taken if it exists anywhere
    NOT_ELSEWHERE = "not_elsewhere"  # a reference that may be the account's own row


@dataclass(frozen=True)
class Claim:
    path: tuple[str, ...]  # body field, through nested objects; lists on the way are walked
    table: str
    column: str
    mode: Mode = Mode.FRESH
    email: bool = False
    key: str = "body"  # "body", or "path:<prefix>" for the rest of the URL path after <prefix>
    # An update may keep its own value: FRESH except for the row of the body's user_id (without
    # one, the email names the user to update, so only other accounts' rows count).
    skip_self: bool = False
    # How the client's value is stored (a key value is stored hashed; an end user per account).
    transform: Callable[[str, TenantContext], str] | None = None


def _hashed(value: str, ctx: TenantContext) -> str:
    return litellm.hash_token(value)


def _end_user(value: str, ctx: TenantContext) -> str:
    return internal_id(ctx.account_id, value) if ctx.account_id is not None else value


_USER = "LiteLLM_UserTable"
_USER_ID = Claim(("user_id",), _USER, "user_id")
_EMAIL = Claim(("user_email",), _USER, "user_email", email=True)
_SSO_ID = Claim(("sso_user_id",), _USER, "sso_user_id")
_KEY = Claim(("key",), "LiteLLM_VerificationToken", "token", transform=_hashed)
_NEW_KEY = Claim(("new_key",), "LiteLLM_VerificationToken", "token", transform=_hashed)
_CUSTOMER = Claim(("user_id",), "LiteLLM_EndUserTable", "user_id", transform=_end_user)
_OWN_BUDGET = Claim(("budget_id",), "LiteLLM_BudgetTable", "budget_id", Mode.NOT_ELSEWHERE)


def _members(container: str) -> tuple[Claim, ...]:
    return (
        Claim((container, "user_id"), _USER, "user_id", Mode.NOT_ELSEWHERE),
        Claim((container, "user_email"), _USER, "user_email", Mode.NOT_ELSEWHERE, email=True),
    )


# Route (as routes.toml names it) -> the values it claims. tests/isolation/test_namespaces.py
# derives every create route's unique columns from the live API and the schema and checks them.
CLAIMS: dict[str, tuple[Claim, ...]] = {
    "POST /user/new": (_USER_ID, _EMAIL, _SSO_ID),
    "POST /management/v1/users/bulk": tuple(
        Claim(("users", *c.path), c.table, c.column, email=c.email) for c in (_USER_ID, _EMAIL, _SSO_ID)
    ),
    "POST /user/update": (Claim(("user_email",), _USER, "user_email", email=True, skip_self=True),),
    "POST /user/bulk_update": (Claim(("users", "user_email"), _USER, "user_email", Mode.NOT_ELSEWHERE, email=True),),
    "POST /team/member_add": _members("member"),
    "POST /team/bulk_member_add": _members("members"),
    "POST /team/new": (Claim(("team_id",), "LiteLLM_TeamTable", "team_id"),),
    "POST /customer/new": (_CUSTOMER, _OWN_BUDGET),
    "POST /end_user/new": (_CUSTOMER, _OWN_BUDGET),
    "POST /budget/new": (Claim(("budget_id",), "LiteLLM_BudgetTable", "budget_id"),),
    "POST /key/generate": (_KEY,),
    "POST /key/service-account/generate": (_KEY,),
    "POST /key/regenerate": (_NEW_KEY,),
    "POST /key/{key:path}/regenerate": (_NEW_KEY,),
    "POST /v1/memory": (Claim(("key",), "LiteLLM_MemoryTable", "key"),),
    "PUT /v1/memory/{key:path}": (Claim((), "LiteLLM_MemoryTable", "key", Mode.NOT_ELSEWHERE, key="path:/v1/memory/"),),
}

_MAX_VALUES = 1000  # bulk bodies are bounded by LiteLLM (500 users); never loop on more


def _walk(value: Any, path: tuple[str, ...]) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value[:_MAX_VALUES]:
            yield from _walk(item, path)
        return
    if not path:
        yield value
        return
    if isinstance(value, dict) and path[0] in value:
        yield from _walk(value[path[0]], path[1:])


def _values(claim: Claim, body: Any, path: str) -> list[str]:
    if claim.key.startswith("path:"):
        prefix = claim.key[len("path:") :]
        return [path[len(prefix) :]] if path.startswith(prefix) and len(path) > len(prefix) else []
    found = [v for v in _walk(body, claim.path) if isinstance(v, str) and v.strip()]
    return found[:_MAX_VALUES]


def taken() -> IdTaken:
    # One body for every case: it must not tell whose the value is, nor echo it.
    return IdTaken(
        "an object with this identifier already exists",
        hint="choose another id, email or key; identifiers are unique across the whole gateway",
    )


async def _row_owners(claim: Claim, values: list[str], skip_user: str | None, pool: Any = None) -> list[str | None]:
    pool = pool or runtime.pool
    if pool is None:
        return []
    column = f'lower("{claim.column}")' if claim.email else f'"{claim.column}"'
    wanted = [v.lower() for v in values] if claim.email else values
    sql = f'SELECT account_id FROM "{claim.table}" WHERE {column} = ANY($1::text[])'
    args: list[Any] = [wanted]
    if skip_user is not None:
        sql += " AND user_id IS DISTINCT FROM $2"  # a user keeps their own address
        args.append(skip_user)
    rows = await pool.fetch(sql, *args)
    return [r["account_id"] for r in rows]


async def _domain_owners(emails: list[str], pool: Any = None) -> list[str]:
    pool = pool or runtime.pool
    domains = sorted({e.rsplit("@", 1)[-1].strip().lower() for e in emails if "@" in e})
    if pool is None or not domains:
        return []
    rows = await pool.fetch('SELECT account_id FROM "Atrium_AccountDomain" WHERE domain = ANY($1::text[])', domains)
    return [r["account_id"] for r in rows]


async def check_conflicts(route: str | None, body: Any, path: str, ctx: TenantContext) -> None:
    """Raises :class:`IdTaken` if the request claims a value that is not the caller's to claim."""
    claims = CLAIMS.get(route or "")
    if not claims:
        return
    for claim in claims:
        values = _values(claim, body, path)
        if not values:
            continue
        if claim.transform is not None:
            values = [claim.transform(v, ctx) for v in values]
        mode, skip_user = claim.mode, None
        if claim.skip_self:
            own = body.get("user_id") if isinstance(body, dict) else None
            mode, skip_user = (Mode.FRESH, own) if isinstance(own, str) and own else (Mode.NOT_ELSEWHERE, None)
        owners = await _row_owners(claim, values, skip_user)
        if mode is Mode.FRESH and owners:
            raise taken()
        if any(owner != ctx.account_id for owner in owners):
            raise taken()
        if claim.email and any(owner != ctx.account_id for owner in await _domain_owners(values)):
            raise taken()


async def email_taken(email: str, account_id: str | None, pool: Any = None) -> bool:
    """Whether an address is another account's: a user there has it, or its domain is theirs."""
    claim = Claim(("user_email",), _USER, "user_email", Mode.NOT_ELSEWHERE, email=True)
    owners = [*await _row_owners(claim, [email], None, pool), *await _domain_owners([email], pool)]
    return any(owner != account_id for owner in owners)
