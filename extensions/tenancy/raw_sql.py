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

import re
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from extensions.errors import TenancyError
from extensions.tenancy.context import peek_tenant
from extensions.tenancy.tables import TABLES, TableClass

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


@dataclass(frozen=True)
class SafeStatement:
    name: str
    pattern: re.Pattern[str]
    reason: str


def _normalise(sql: str) -> str:
    return " ".join(re.sub(r"--[^\n]*", "", sql).split())


SAFE_STATEMENTS: tuple[SafeStatement, ...] = (
    SafeStatement(
        "key_auth_combined_view",
        re.compile(r'^SELECT v\.\*, .* FROM "LiteLLM_VerificationToken" AS v .* WHERE v\.token = \$1$'),
        "key authentication: one row, selected by the hash of the key the caller presented",
    ),
)


def touches_tenant_tables(sql: str) -> bool:
    return _TENANT_TABLE_RE.search(sql) is not None


def guard_raw_sql(sql: str, args: Sequence[Any]) -> None:
    ctx = peek_tenant()
    if ctx is None or ctx.unrestricted or raw_sql_reviewed.get():
        return
    if not touches_tenant_tables(sql):
        return
    normalised = _normalise(sql)
    if any(s.pattern.match(normalised) for s in SAFE_STATEMENTS):
        return
    raise RawSqlRefused(
        "this operation runs raw SQL over tenant data and is not available to account principals",
        hint="use the account-scoped endpoint, or ask the super admin",
        statement=normalised[:120],
    )
