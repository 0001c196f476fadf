"""The raw SQL guard: what the Prisma wrapper cannot filter, it refuses.

LiteLLM runs about 170 raw queries (``query_raw``, ``execute_raw``, ``query_first``). A
model-level wrapper cannot add an account filter to them, so in a restricted tenant
context a raw query that touches a tenant table is refused unless

- it is one of the reviewed statements in :data:`SAFE_STATEMENTS` (for example key
  authentication, which looks a key up by the hash of the key the caller presented), or
- the current route is classified as reviewed for raw SQL (``raw_sql_reviewed`` set by
  the middleware from the route policy).

Unrestricted principals (super admin, system) are not checked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from extensions import litellm
from extensions.errors import TenancyError
from extensions.runtime import runtime
from extensions.tenancy.data.tables import TABLES, TableClass
from extensions.tenancy.request.context import Principal, current_principal, data_scope
from extensions.tenancy.request.refusals import record_refusal

log = logging.getLogger("atrium.raw_sql")

__all__ = ["RAW_METHODS", "SAFE_STATEMENTS", "RawSqlRefused", "guard_raw_sql", "raw_sql_reviewed"]

RAW_METHODS = frozenset({"query_raw", "execute_raw", "query_first"})

raw_sql_reviewed: ContextVar[bool] = ContextVar("atrium_raw_sql_reviewed", default=False)

_TENANT_TABLE_RE = re.compile(
    "|".join(re.escape(name) for name, (kind, _) in TABLES.items() if kind is TableClass.TENANT)
    + r'|"?LiteLLM_VerificationTokenView"?|MonthlyGlobalSpend|Last30dKeysBySpend|Last30dModelsBySpend'
    + r"|MonthlyGlobalSpendPerKey|MonthlyGlobalSpendPerUserPerKey|DailyTagSpend|Last30dTopEndUsersSpend",
    re.IGNORECASE,
)


class RawSqlRefused(TenancyError):
    code = "raw_sql_refused"
    status = 403


ArgCheck = Callable[[Sequence[Any], Principal], Awaitable[bool]]


@dataclass(frozen=True)
class SafeStatement:
    name: str
    pattern: re.Pattern[str]
    reason: str
    check: ArgCheck | None = None  # the arguments must pass too


def _ids(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or ()]


async def _none_foreign(table: str, column: str, values: list[str], ctx: Principal) -> bool:
    """True when no named row belongs to an account other than the principal's."""
    if not values:
        return True
    if runtime.pool is None:
        return False
    foreign = await runtime.pool.fetchval(
        f'SELECT count(*) FROM "{table}" WHERE "{column}" = ANY($1::text[]) '
        "AND account_id IS NOT NULL AND account_id IS DISTINCT FROM $2",
        values,
        ctx.account_id,
    )
    return bool(foreign == 0)


async def _own_token(args: Sequence[Any], ctx: Principal) -> bool:
    return bool(args) and ctx.token_hash is not None and args[0] == ctx.token_hash


async def _own_users(args: Sequence[Any], ctx: Principal) -> bool:
    return await _none_foreign("LiteLLM_UserTable", "user_id", _ids(args[0] if args else None), ctx)


async def _own_teams(args: Sequence[Any], ctx: Principal) -> bool:
    return await _none_foreign("LiteLLM_TeamTable", "team_id", _ids(args[0] if args else None), ctx)


async def _own_team_and_users(args: Sequence[Any], ctx: Principal) -> bool:
    return len(args) >= 2 and await _own_teams(args[:1], ctx) and await _own_users(args[1:], ctx)


# The statements themselves (text patterns, the LiteLLM functions issuing them) live in
# extensions/litellm/_sql.py, where a contract test checks them against the installed LiteLLM;
# this guard adds what only the tenancy layer can judge: whether the arguments are the caller's.
_ARGUMENT_CHECKS: dict[str, ArgCheck | None] = {
    "key_auth_combined_view": _own_token,
    "user_rows_lock": _own_users,
    "detach_team_from_users": _own_team_and_users,
    "strip_deleted_teams_from_users": _own_teams,
}

SAFE_STATEMENTS: tuple[SafeStatement, ...] = tuple(
    SafeStatement(statement.name, statement.pattern, statement.reason, _ARGUMENT_CHECKS[statement.name])
    for statement in litellm.REVIEWED_STATEMENTS
)


def touches_tenant_tables(sql: str) -> bool:
    return _TENANT_TABLE_RE.search(sql) is not None


async def guard_raw_sql(sql: str, args: Sequence[Any]) -> None:
    if not data_scope().restricted or raw_sql_reviewed.get():
        return
    ctx = current_principal()  # a restricted scope is always a principal's
    if not touches_tenant_tables(sql):
        return
    normalised = litellm.normalise_sql(sql)
    for statement in SAFE_STATEMENTS:
        if statement.pattern.match(normalised):
            if statement.check is None or await statement.check(args, ctx):
                return
            log.warning("reviewed raw statement refused for its arguments", extra={"statement": statement.name})
            break
    log.warning("raw SQL refused", extra={"statement": normalised[:200]})
    raise record_refusal(
        RawSqlRefused(
            "this operation runs raw SQL over tenant data and is not available to account principals",
            hint="use the account-scoped endpoint, or ask the super admin",
            statement=normalised[:120],
        )
    )
