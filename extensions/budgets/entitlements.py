"""Entitlement limits at the door: creating past the plan's count is refused before LiteLLM runs.

:class:`EntitlementLimits` is a check of the middleware pipeline (``extensions.app.ISOLATION_CHECKS``
composes it after the tenancy checks). For a tenant principal calling one of LiteLLM's creation
routes it counts the account's rows of that kind and refuses with 403 ``entitlement_exceeded`` when
the request would go past the plan's limit, naming the limit, the plan and the current count. The
refusal is Atrium's error body, which is LiteLLM's ``{"error": {...}}`` envelope.

The count is read before LiteLLM writes, so two creations racing each other can both pass at the
last free slot: the limit is a plan's entitlement, not a security boundary, and one over is the
worst case per concurrent request.

Features (SSO, usage export, ...) are asked through :func:`require_feature` by the routes that
offer them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from extensions import litellm
from extensions.budgets.plans import Entitlements, entitlements_of
from extensions.errors import AtriumError
from extensions.runtime import runtime
from extensions.tenancy.request.checks import Exchange, Reply

__all__ = [
    "CREATION_ROUTES",
    "EntitlementExceeded",
    "EntitlementLimits",
    "feature_enabled",
    "require_feature",
    "usage_counts",
]

log = logging.getLogger("atrium.budgets")

_MODEL_OWNER = "atrium_account_id"  # extensions/models/naming.py ACCOUNT_KEY (budgets may not import models)

# What each counted limit counts: the account's rows (LiteLLM's tables carry Atrium's account_id).
# Keys: UI sessions (LiteLLM mints one per sign-in) and expired keys are not the account's keys.
_COUNT_SQL: dict[str, str] = {
    "max_keys": 'SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE account_id = $1 '
    "AND team_id IS DISTINCT FROM $2 AND (expires IS NULL OR expires > now())",
    "max_teams": 'SELECT count(*) FROM "LiteLLM_TeamTable" WHERE account_id = $1',
    "max_users": 'SELECT count(*) FROM "LiteLLM_UserTable" WHERE account_id = $1',
    "max_models": 'SELECT count(*) FROM "LiteLLM_ProxyModelTable" WHERE account_id = $1 '
    f"OR model_info->>'{_MODEL_OWNER}' = $1",
}
_NOUNS = {"max_keys": "keys", "max_teams": "teams", "max_users": "users", "max_models": "models"}


async def _one(body: Any, account_id: str) -> int:
    return 1


async def _user_keys(body: Any, account_id: str) -> int:
    # LiteLLM's /user/new also mints a key unless auto_create_key is false.
    return 0 if isinstance(body, dict) and body.get("auto_create_key") is False else 1


def _listed(body: Any, field: str) -> list[dict[str, Any]]:
    found = body.get(field) if isinstance(body, dict) else None
    found = [found] if isinstance(found, dict) else found
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


async def _bulk_users(body: Any, account_id: str) -> int:
    return len(_listed(body, "users"))


async def _bulk_user_keys(body: Any, account_id: str) -> int:
    # The bulk route's auto_create_key defaults to false (management_v1/users.py).
    return sum(1 for user in _listed(body, "users") if user.get("auto_create_key") is True)


async def _new_members(members: list[dict[str, Any]]) -> int:
    """How many of the members LiteLLM's team member add would create as new users (no such id or email)."""
    if not members:
        return 0
    ids = [m["user_id"] for m in members if isinstance(m.get("user_id"), str)]
    emails = [m["user_email"] for m in members if isinstance(m.get("user_email"), str)]
    rows = await runtime.require_pool("plans").fetch(
        'SELECT user_id, user_email FROM "LiteLLM_UserTable" WHERE user_id = ANY($1) OR user_email = ANY($2)',
        ids,
        emails,
    )
    known = {r["user_id"] for r in rows} | {r["user_email"] for r in rows if r["user_email"]}
    return sum(1 for m in members if m.get("user_id") not in known and m.get("user_email") not in known)


async def _member_add(body: Any, account_id: str) -> int:
    return await _new_members(_listed(body, "member"))


async def _bulk_member_add(body: Any, account_id: str) -> int:
    return await _new_members(_listed(body, "members"))


Counter = Callable[[Any, str], Awaitable[int]]

# LiteLLM's routes that create counted rows -> (limit, how many the body creates) for each limit.
CREATION_ROUTES: dict[str, tuple[tuple[str, Counter], ...]] = {
    "POST /key/generate": (("max_keys", _one),),
    "POST /key/service-account/generate": (("max_keys", _one),),
    "POST /team/new": (("max_teams", _one),),
    "POST /user/new": (("max_users", _one), ("max_keys", _user_keys)),
    "POST /management/v1/users/bulk": (("max_users", _bulk_users), ("max_keys", _bulk_user_keys)),
    "POST /team/member_add": (("max_users", _member_add),),  # an unknown id or email becomes a new user
    "POST /team/bulk_member_add": (("max_users", _bulk_member_add),),
    "POST /model/new": (("max_models", _one),),
}


class EntitlementExceeded(AtriumError):
    code = "entitlement_exceeded"
    status = 403


def _plan_label(ent: Entitlements) -> str:
    return repr(ent.plan_name or ent.plan_id)


@dataclass(frozen=True)
class _Refusal:
    limit: str
    allowed: int
    current: int
    adding: int

    def error(self, ent: Entitlements) -> EntitlementExceeded:
        noun = _NOUNS[self.limit]
        return EntitlementExceeded(
            f"the account's plan {_plan_label(ent)} allows {self.allowed} {noun} ({self.limit}); "
            f"the account has {self.current}",
            hint="remove some, or ask the operator for a plan with a higher limit",
            limit=self.limit,
            allowed=self.allowed,
            current=self.current,
            plan_id=ent.plan_id,
        )


async def _count(limit: str, account_id: str) -> int:
    sql = _COUNT_SQL[limit]
    args: tuple[Any, ...] = (account_id, litellm.UI_SESSION_TEAM) if limit == "max_keys" else (account_id,)
    return int(await runtime.require_pool("plans").fetchval(sql, *args))


async def usage_counts(account_id: str) -> dict[str, int]:
    """The account's current counts of what its plan limits: keys, teams, users, models."""
    return {_NOUNS[limit]: await _count(limit, account_id) for limit in _COUNT_SQL}


async def _over_limit(route: str, body: Any, account_id: str, ent: Entitlements) -> _Refusal | None:
    for limit, adding_of in CREATION_ROUTES[route]:
        allowed = ent.limit(limit)
        if allowed is None:
            continue
        adding = await adding_of(body, account_id)
        if adding == 0:
            continue
        current = await _count(limit, account_id)
        if current + adding > allowed:
            return _Refusal(limit, int(allowed), current, adding)
    return None


class EntitlementLimits:
    """The check: a tenant's creation past its plan's count gets 403 ``entitlement_exceeded``."""

    def applies(self, ex: Exchange) -> bool:
        return ex.vetted_http and ex.decision.principal.account_id is not None and ex.route in CREATION_ROUTES

    async def run(self, ex: Exchange) -> Reply | None:
        account_id = ex.decision.principal.account_id
        assert account_id is not None  # applies() checked it
        ent = await entitlements_of(account_id)
        refusal = await _over_limit(ex.route, ex.parsed, account_id, ent)
        if refusal is not None:
            log.info(
                "entitlement exceeded",
                extra={"account_id": account_id, "limit": refusal.limit, "allowed": refusal.allowed},
            )
            raise refusal.error(ent)
        return None


async def feature_enabled(account_id: str, name: str) -> bool:
    """Whether the account's plan leaves feature ``name`` on (no plan: every feature is on)."""
    return (await entitlements_of(account_id)).feature(name)


async def require_feature(account_id: str | None, name: str, what: str) -> None:
    """Refuse (403 ``entitlement_exceeded``) when the account's plan switches ``name`` off."""
    if account_id is None:
        return
    ent = await entitlements_of(account_id)
    if not ent.feature(name):
        raise EntitlementExceeded(
            f"the account's plan {_plan_label(ent)} does not include {what} (feature {name!r})",
            hint="ask the operator for a plan that includes it",
            feature=name,
            plan_id=ent.plan_id,
        )
