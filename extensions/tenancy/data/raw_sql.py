"""The raw SQL guard: what the Prisma wrapper cannot filter, it refuses.

LiteLLM runs about 170 raw queries (``query_raw``, ``execute_raw``, ``query_first``). A
model-level wrapper cannot add an account filter to them, so in a restricted tenant
context a raw query that touches a tenant table is refused unless

- it is one of the reviewed statements in :data:`SAFE_STATEMENTS` (for example key
  authentication, which looks a key up by the hash of the key the caller presented), or
- the current route is classified as reviewed for raw SQL (``raw_sql_reviewed`` set by
  the middleware from the route policy).

Unrestricted principals (super admin, system) are not checked. A reviewed statement LiteLLM
issues only as a best-effort warm-up (``skippable``) is skipped, not refused, when its
arguments fail: the caller reads "no rows" and falls back to the scoped per-object reads, with
no exception, retry or log line on the request path.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
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

__all__ = [
    "RAW_METHODS",
    "SAFE_STATEMENTS",
    "RawSqlRefused",
    "forget_prefetch_decisions",
    "guard_raw_sql",
    "raw_sql_reviewed",
    "skipped_result",
]

RAW_METHODS = frozenset({"query_raw", "execute_raw", "query_first"})
_SKIPPED: dict[str, Any] = {"query_raw": [], "execute_raw": 0, "query_first": None}


def skipped_result(method: str) -> Any:
    """What a skipped statement answers: no rows, nothing changed."""
    return _SKIPPED[method]


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
    digest: str | None = None  # the exact (normalised) text, when the pattern alone is loose
    skippable: bool = False  # failed arguments skip the statement (no rows) instead of refusing it

    def matches(self, normalised: str) -> bool:
        if not self.pattern.match(normalised):
            return False
        return self.digest is None or litellm.sql_digest(normalised) == self.digest


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


# What the caller's own key references, and the account of each referenced row: the auth
# prefetch may read exactly these rows, and only when none is of another account.
_KEY_REFS_SQL = """
SELECT v.user_id, v.team_id, v.project_id, v.organization_id AS key_org, t.organization_id AS team_org,
       u.account_id AS user_account, t.account_id AS team_account, p.account_id AS project_account,
       ko.account_id AS key_org_account, o.account_id AS team_org_account
FROM "LiteLLM_VerificationToken" v
LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = v.user_id
LEFT JOIN "LiteLLM_TeamTable" t ON t.team_id = v.team_id
LEFT JOIN "LiteLLM_ProjectTable" p ON p.project_id = v.project_id
LEFT JOIN "LiteLLM_OrganizationTable" ko ON ko.organization_id = v.organization_id
LEFT JOIN "LiteLLM_OrganizationTable" o ON o.organization_id = t.organization_id
WHERE v.token = $1
"""
_ACCOUNT_COLUMNS = ("user_account", "team_account", "project_account", "key_org_account", "team_org_account")
_DECISION_TTL_S = 300.0
_DECISIONS_MAX = 10_000
# (token hash, account, arguments) -> (expiry, admitted). A key's account never changes and a
# row never moves between accounts, so a decision stays right for its lifetime; the TTL only
# bounds how long a key that was moved to another team of its account keeps the old answer.
_prefetch_decisions: OrderedDict[tuple[Any, ...], tuple[float, bool]] = OrderedDict()


async def _decide_prefetch(args: Sequence[Any], ctx: Principal) -> bool:
    if ctx.token_hash is None or len(args) != 5 or runtime.pool is None:
        return False
    row = await runtime.pool.fetchrow(_KEY_REFS_SQL, ctx.token_hash)
    if row is None:
        return False
    if any(row[column] is not None and row[column] != ctx.account_id for column in _ACCOUNT_COLUMNS):
        return False
    user, team, member, org, project = args
    allowed = (
        (user, {row["user_id"]}),
        (team, {row["team_id"]}),
        (member, {row["user_id"]}),
        (org, {row["key_org"], row["team_org"]}),
        (project, {row["project_id"]}),
    )
    return all(value is None or value in own for value, own in allowed)


async def _own_key_objects(args: Sequence[Any], ctx: Principal) -> bool:
    """Decided once per key and arguments, so warm requests pay a dictionary lookup."""
    key = (ctx.token_hash, ctx.account_id, *args)
    now = time.monotonic()
    cached = _prefetch_decisions.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    admitted = await _decide_prefetch(args, ctx)
    if not admitted:
        log.info("auth prefetch skipped for arguments outside the caller's key", extra={"statement": "prefetch"})
    _prefetch_decisions[key] = (now + _DECISION_TTL_S, admitted)
    _prefetch_decisions.move_to_end(key)
    while len(_prefetch_decisions) > _DECISIONS_MAX:
        _prefetch_decisions.popitem(last=False)
    return admitted


def forget_prefetch_decisions() -> None:
    """Tests: start from no cached decision."""
    _prefetch_decisions.clear()


# The statements themselves (text patterns, the LiteLLM functions issuing them) live in
# extensions/litellm/_sql.py, where a contract test checks them against the installed LiteLLM;
# this guard adds what only the tenancy layer can judge: whether the arguments are the caller's.
_ARGUMENT_CHECKS: dict[str, ArgCheck | None] = {
    "key_auth_combined_view": _own_token,
    "user_rows_lock": _own_users,
    "detach_team_from_users": _own_team_and_users,
    "strip_deleted_teams_from_users": _own_teams,
    "auth_object_prefetch": _own_key_objects,
}
# Best-effort reads: LiteLLM falls back to its per-object getters (scoped by the Prisma wrapper)
# when they return nothing, so a refusal would only add an exception and a log line per request.
_SKIPPABLE = frozenset({"auth_object_prefetch"})

SAFE_STATEMENTS: tuple[SafeStatement, ...] = tuple(
    SafeStatement(
        statement.name,
        statement.pattern,
        statement.reason,
        _ARGUMENT_CHECKS[statement.name],
        digest=statement.digest,
        skippable=statement.name in _SKIPPABLE,
    )
    for statement in litellm.REVIEWED_STATEMENTS
)


def touches_tenant_tables(sql: str) -> bool:
    return _TENANT_TABLE_RE.search(sql) is not None


async def guard_raw_sql(sql: str, args: Sequence[Any]) -> bool:
    """True: run the statement; False: skip it (the caller answers "no rows"). Raises when refused."""
    if not data_scope().restricted or raw_sql_reviewed.get():
        return True
    ctx = current_principal()  # a restricted scope is always a principal's
    if not touches_tenant_tables(sql):
        return True
    normalised = litellm.normalise_sql(sql)
    for statement in SAFE_STATEMENTS:
        if statement.matches(normalised):
            if statement.check is None or await statement.check(args, ctx):
                return True
            if statement.skippable:
                return False
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
