"""Plans and the entitlements they give an account.

A plan (``Atrium_Plan``) names limits (monthly cost and tokens, RPM/TPM, how many keys, teams,
users and models) and feature flags (SSO, guardrails, usage export, ...). A plan without an
``account_id`` can be given to any account; one with an ``account_id`` is that account's private
plan. ``Atrium_AccountPlan`` says which plan an account is on, with per-account ``overrides``
(``{"limits": {...}, "features": {...}}``; a limit overridden with null is unlimited).

:class:`Entitlements` is the plan with the overrides applied. A limit that is absent or null is
unlimited; a feature that is absent is enabled (plans switch features off). An account on no plan
is entitled to everything, which is Atrium's behaviour before plans existed.

Each worker caches an account's entitlements; every plan or assignment change publishes
``{"kind": "plan"}`` on the invalidation bus, and every worker of every replica drops its cache
when it hears it (the 2-second promise). A short TTL bounds staleness should a message be lost.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from extensions.errors import AtriumError, Conflict, NotFound, RequestError, echo
from extensions.runtime import runtime
from extensions.tenancy.accounts.invalidation import InvalidationBus

__all__ = [
    "FEATURES",
    "INVALIDATION_KIND",
    "LIMITS",
    "UNLIMITED",
    "Entitlements",
    "Features",
    "Overrides",
    "Plan",
    "PlanLimits",
    "PlanStore",
    "entitlements_of",
    "on_invalidate",
    "plan_store",
]

log = logging.getLogger("atrium.budgets.plans")

INVALIDATION_KIND = "plan"
CACHE_TTL_SECONDS = 30.0  # a safety net only: the bus message is what applies a change
FEATURE_NAME = r"^[a-z][a-z0-9_]{0,63}$"
FEATURES_MAX = 32
LIMITS = (
    "max_budget_monthly",
    "tokens_monthly",
    "rpm",
    "tpm",
    "max_keys",
    "max_teams",
    "max_users",
    "max_models",
)
FEATURES = ("sso", "guardrails", "usage_export")  # the ones Atrium enforces; others are stored as given

COUNT_MAX = 10**12


class PlanLimits(BaseModel):
    """A plan's limits; null (or absent) is unlimited."""

    model_config = ConfigDict(extra="forbid")

    max_budget_monthly: float | None = Field(default=None, ge=0, le=COUNT_MAX, description="USD per calendar month")
    tokens_monthly: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    rpm: int | None = Field(default=None, ge=0, le=10**9, description="requests per minute, whole account")
    tpm: int | None = Field(default=None, ge=0, le=COUNT_MAX, description="tokens per minute, whole account")
    max_keys: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    max_teams: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    max_users: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    max_models: int | None = Field(default=None, ge=0, le=COUNT_MAX)


Features = dict[str, bool]


class Overrides(BaseModel):
    """An account's overrides of its plan: only the limits and features named are changed."""

    model_config = ConfigDict(extra="forbid")

    limits: PlanLimits = Field(default_factory=PlanLimits)
    features: Features = Field(default_factory=dict, max_length=FEATURES_MAX)

    def stored(self) -> dict[str, Any]:
        # Only the limits the caller named: an absent limit keeps the plan's, a null one is unlimited.
        return {"limits": self.limits.model_dump(exclude_unset=True), "features": self.features}


@dataclass(frozen=True)
class Entitlements:
    plan_id: str | None = None
    plan_name: str | None = None
    limits: Mapping[str, float | None] = field(default_factory=dict)
    features: Mapping[str, bool] = field(default_factory=dict)

    def limit(self, name: str) -> float | None:
        return self.limits.get(name)

    def feature(self, name: str) -> bool:
        return self.features.get(name, True)

    def public(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "plan_name": self.plan_name,
            "limits": {name: self.limits.get(name) for name in LIMITS},
            "features": {**{name: True for name in FEATURES}, **self.features},
        }


UNLIMITED = Entitlements()


@dataclass(frozen=True)
class Plan:
    plan_id: str
    account_id: str | None
    name: str
    limits: dict[str, Any]
    features: dict[str, bool]
    created_at: str | None = None
    updated_at: str | None = None


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # asyncpg hands jsonb over as text
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _plan(row: asyncpg.Record) -> Plan:
    return Plan(
        plan_id=row["plan_id"],
        account_id=row["account_id"],
        name=row["name"],
        limits=_json(row["limits"]),
        features=_json(row["features"]),
        created_at=row["created_at"].isoformat() if row["created_at"] else None,
        updated_at=row["updated_at"].isoformat() if row["updated_at"] else None,
    )


def _not_found(plan_id: str) -> NotFound:
    return NotFound(f"plan {echo(plan_id)} not found", hint="pass a plan id from /plan/list")


class PlanStore:
    def __init__(self, pool: asyncpg.Pool, bus: InvalidationBus | None) -> None:
        self.pool = pool
        self.bus = bus

    async def _changed(self, ident: str) -> None:
        on_invalidate({"kind": INVALIDATION_KIND, "id": ident})  # this worker at once, the others by the bus
        if self.bus is None:
            return
        try:
            await self.bus.publish({"kind": INVALIDATION_KIND, "id": ident})
        except Exception as exc:  # the change is stored: without the bus the cache TTL still carries it
            log.warning(
                "plan change stored but not broadcast; other workers apply it within the cache TTL",
                extra={"error": str(exc)[:200], "ttl_seconds": CACHE_TTL_SECONDS},
            )

    async def _account_exists(self, conn: asyncpg.Connection, account_id: str) -> None:
        if await conn.fetchval('SELECT 1 FROM "Atrium_Account" WHERE account_id = $1', account_id) is None:
            raise NotFound(f"account {echo(account_id)} not found", hint="pass an account id from /account/list")

    async def get(self, plan_id: str) -> Plan:
        row = await self.pool.fetchrow('SELECT * FROM "Atrium_Plan" WHERE plan_id = $1', plan_id)
        if row is None:
            raise _not_found(plan_id)
        return _plan(row)

    async def list_plans(self, account_id: str | None = None) -> list[Plan]:
        if account_id is None:
            rows = await self.pool.fetch('SELECT * FROM "Atrium_Plan" ORDER BY plan_id')
        else:  # the plans an account can be given: shared ones and its own
            rows = await self.pool.fetch(
                'SELECT * FROM "Atrium_Plan" WHERE account_id IS NULL OR account_id = $1 ORDER BY plan_id', account_id
            )
        return [_plan(row) for row in rows]

    async def create(
        self, plan_id: str, name: str, limits: PlanLimits, features: Features, account_id: str | None
    ) -> Plan:
        async with self.pool.acquire() as conn:
            if account_id is not None:
                await self._account_exists(conn, account_id)
            row = await conn.fetchrow(
                'INSERT INTO "Atrium_Plan" (plan_id, account_id, name, limits, features) '
                "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb) ON CONFLICT (plan_id) DO NOTHING RETURNING *",
                plan_id,
                account_id,
                name,
                json.dumps(limits.model_dump()),
                json.dumps(features),
            )
        if row is None:
            raise Conflict(f"plan {echo(plan_id)} already exists", hint="choose another plan_id or use /plan/update")
        return _plan(row)

    async def update(
        self, plan_id: str, name: str | None, limits: PlanLimits | None, features: Features | None
    ) -> Plan:
        row = await self.pool.fetchrow(
            'UPDATE "Atrium_Plan" SET name = COALESCE($2, name), limits = COALESCE($3::jsonb, limits), '
            "features = COALESCE($4::jsonb, features), updated_at = now() WHERE plan_id = $1 RETURNING *",
            plan_id,
            name,
            json.dumps(limits.model_dump()) if limits is not None else None,
            json.dumps(features) if features is not None else None,
        )
        if row is None:
            raise _not_found(plan_id)
        await self._changed(plan_id)
        return _plan(row)

    async def delete(self, plan_id: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # The plan row is locked first so an assignment cannot slip in between the check and the delete.
            if await conn.fetchval('SELECT 1 FROM "Atrium_Plan" WHERE plan_id = $1 FOR UPDATE', plan_id) is None:
                raise _not_found(plan_id)
            assigned = await conn.fetchval('SELECT count(*) FROM "Atrium_AccountPlan" WHERE plan_id = $1', plan_id)
            if assigned:
                raise Conflict(
                    f"plan {echo(plan_id)} is assigned to {assigned} account(s)",
                    hint="assign those accounts another plan first",
                    assigned=assigned,
                )
            await conn.execute('DELETE FROM "Atrium_Plan" WHERE plan_id = $1', plan_id)
        await self._changed(plan_id)

    async def assign(self, account_id: str, plan_id: str | None, overrides: Overrides, updated_by: str | None) -> None:
        """Put the account on ``plan_id`` (None: on no plan, unlimited)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._account_exists(conn, account_id)
            if plan_id is None:
                await conn.execute('DELETE FROM "Atrium_AccountPlan" WHERE account_id = $1', account_id)
            else:
                owner = await conn.fetchrow(
                    'SELECT account_id FROM "Atrium_Plan" WHERE plan_id = $1 FOR SHARE', plan_id
                )
                if owner is None:
                    raise _not_found(plan_id)
                if owner["account_id"] not in (None, account_id):
                    raise RequestError(
                        f"plan {echo(plan_id)} is another account's private plan",
                        hint="assign a shared plan or one of this account's own",
                    )
                await conn.execute(
                    'INSERT INTO "Atrium_AccountPlan" (account_id, plan_id, overrides, updated_by) '
                    "VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT (account_id) DO UPDATE SET "
                    "plan_id = EXCLUDED.plan_id, overrides = EXCLUDED.overrides, "
                    "updated_by = EXCLUDED.updated_by, updated_at = now()",
                    account_id,
                    plan_id,
                    json.dumps(overrides.stored()),
                    updated_by,
                )
        await self._changed(account_id)

    async def load_entitlements(self, account_id: str) -> Entitlements:
        row = await self.pool.fetchrow(
            'SELECT p.plan_id, p.name, p.limits, p.features, a.overrides FROM "Atrium_AccountPlan" a '
            'JOIN "Atrium_Plan" p ON p.plan_id = a.plan_id WHERE a.account_id = $1',
            account_id,
        )
        if row is None:
            return UNLIMITED
        overrides = _json(row["overrides"])
        limits = {**_json(row["limits"]), **_json(overrides.get("limits"))}
        features = {**_json(row["features"]), **_json(overrides.get("features"))}
        return Entitlements(
            plan_id=row["plan_id"],
            plan_name=row["name"],
            limits={k: v for k, v in limits.items() if k in LIMITS and isinstance(v, int | float)},
            features={k: v for k, v in features.items() if isinstance(v, bool)},
        )


_store: PlanStore | None = None
_cache: dict[str, tuple[float, Entitlements]] = {}
_generation = 0  # bumped by each invalidation: a load that raced one is not cached


def plan_store() -> PlanStore:
    """This worker's store, on the pool and bus the lifespan built."""
    global _store
    pool = runtime.pool
    if pool is None:
        raise AtriumError("plans need a database", hint="set DATABASE_URL")
    if _store is None or _store.pool is not pool:
        _store = PlanStore(pool, runtime.bus)
    return _store


def on_invalidate(message: Mapping[str, Any]) -> None:
    """A plan or an assignment changed somewhere: forget every account's entitlements (changes are rare)."""
    global _generation
    if message.get("kind") == INVALIDATION_KIND:
        _generation += 1
        _cache.clear()


async def entitlements_of(account_id: str) -> Entitlements:
    """The account's entitlements, from this worker's cache; unlimited without a database."""
    if runtime.pool is None:
        return UNLIMITED
    now = time.monotonic()
    cached = _cache.get(account_id)
    if cached is not None and now - cached[0] < CACHE_TTL_SECONDS:
        return cached[1]
    generation = _generation
    found = await plan_store().load_entitlements(account_id)
    if len(_cache) > 50_000:  # bounded: accounts are few, but never let the cache grow without limit
        _cache.clear()
    if generation == _generation:
        _cache[account_id] = (now, found)
    return found
