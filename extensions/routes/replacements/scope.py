"""What a tenant principal may read on the replaced list routes: the account's rows, and as whom.

LiteLLM decides its list views by role: a proxy admin (and mostly an admin viewer) sees every
row, anyone else their own user's and their teams'. An account admin holds LiteLLM's proxy-admin
role inside its account and an account viewer the admin-viewer role, so the replacements give
them LiteLLM's admin view computed over the account; members keep LiteLLM's non-admin view.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from extensions import litellm
from extensions.runtime import runtime
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = [
    "admin_view",
    "foreign_values",
    "in_account",
    "litellm_role",
    "log_team_ids",
    "own_values",
    "pool",
]


def in_account(alias: str = "") -> str:
    """The predicate every statement of the replacements starts with: the caller's account is $1.

    A principal of no account (a global key) reads the rows of no account, as the scoped Prisma
    wrapper does. ``alias``: the table alias the column is qualified with.
    """
    return f"{alias + '.' if alias else ''}account_id IS NOT DISTINCT FROM $1"


def pool() -> Any:
    return runtime.require_pool("account lists")


def admin_view(ctx: Principal, *, viewer: bool = True) -> bool:
    """LiteLLM's admin view (``user_api_key_has_admin_view``); ``viewer=False`` where only the
    proxy-admin role counts (the agents list)."""
    kinds = {PrincipalKind.ACCOUNT_ADMIN, PrincipalKind.ACCOUNT_VIEWER} if viewer else {PrincipalKind.ACCOUNT_ADMIN}
    return ctx.kind in kinds


def litellm_role(ctx: Principal) -> str:
    """The LiteLLM role a principal's key carries (what LiteLLM's messages name)."""
    if ctx.kind is PrincipalKind.ACCOUNT_ADMIN:
        return litellm.ROLE_PROXY_ADMIN
    if ctx.kind is PrincipalKind.ACCOUNT_VIEWER:
        return litellm.ROLE_PROXY_ADMIN_VIEWER
    return litellm.ROLE_INTERNAL_USER


async def log_team_ids(ctx: Principal, permission: str) -> tuple[str, ...]:
    """The account's teams whose logs a member may read: teams it administers or where members
    hold ``permission`` (LiteLLM's ``is_team_admin`` / ``team_member_has_permission``)."""
    if ctx.user_id is None:
        return ()
    rows = await pool().fetch(
        f'SELECT t.team_id FROM "LiteLLM_TeamTable" t WHERE {in_account("t")} AND EXISTS ('
        "SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t.members_with_roles::jsonb) = 'array' "
        "THEN t.members_with_roles::jsonb ELSE '[]'::jsonb END) m "
        "WHERE m->>'user_id' = $2 AND (m->>'role' = 'admin' OR $3 = ANY(t.team_member_permissions)))",
        ctx.account_id,
        ctx.user_id,
        permission,
    )
    return tuple(sorted(row["team_id"] for row in rows))


async def own_values(table: str, column: str, ctx: Principal, where: str = "TRUE") -> set[str]:
    """Values of ``column`` on the account's rows of ``table`` (``where`` may use $1 only)."""
    rows = await pool().fetch(
        f'SELECT DISTINCT "{column}" AS v FROM "{table}" WHERE {in_account()} AND ({where})', ctx.account_id
    )
    return {row["v"] for row in rows if row["v"] is not None}


async def foreign_values(table: str, column: str, ctx: Principal, values: Iterable[str]) -> set[str]:
    """Those of ``values`` that rows of another account (or of none) also hold: names LiteLLM keys
    its registries by are not unique across accounts, and an ambiguous one is never shown."""
    wanted = sorted(set(values))
    if not wanted:
        return set()
    rows = await pool().fetch(
        f'SELECT DISTINCT "{column}" AS v FROM "{table}" WHERE account_id IS DISTINCT FROM $1 AND "{column}" = ANY($2)',
        ctx.account_id,
        wanted,
    )
    return {row["v"] for row in rows}
