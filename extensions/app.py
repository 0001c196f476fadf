"""Wire Atrium into LiteLLM's FastAPI app: middleware, routers, start-up.

``install(app)`` is the single place where Atrium attaches to the host app. It runs at
import time of :mod:`extensions.asgi` in every worker process, before the first
request (Starlette refuses middleware after start-up).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import Scope

from extensions import litellm
from extensions.audit.anchors import Anchoring
from extensions.audit.middleware import AuditCapture, AuditMiddleware
from extensions.audit.retention import Pruner
from extensions.audit.signin_capture import SigninCapture
from extensions.audit.sink_config import SinkSettings
from extensions.audit.sinks import SinkForwarding
from extensions.audit.writer import AuditWriter
from extensions.auth.onboarding import Onboarding
from extensions.budgets import plans
from extensions.budgets.admission import BudgetAdmission, ReservationScope
from extensions.budgets.alerts import BudgetAlerts
from extensions.budgets.entitlements import EntitlementLimits
from extensions.budgets.ledger import Ledger
from extensions.budgets.settings import BudgetSettingsStore
from extensions.budgets.tokens import MonthlyTokens
from extensions.heap import freeze_startup_heap
from extensions.logs import configure_logging
from extensions.models.masking import ModelNameMasking
from extensions.models.provider_objects import ProviderObjects
from extensions.observability.gateway_counts import GatewayCounts
from extensions.observability.tracing import Identity, RequestTracing, emit
from extensions.routes.accounts import get_accounts_router
from extensions.routes.audit import get_audit_router
from extensions.routes.budget_alerts import get_budget_alerts_router
from extensions.routes.budgets import get_budgets_router
from extensions.routes.errors import install_error_handlers
from extensions.routes.identity import get_identity_router
from extensions.routes.invitations import get_invitations_router
from extensions.routes.metrics import get_metrics_router
from extensions.routes.plans import get_plans_router
from extensions.routes.replacements import Replacements
from extensions.routes.sso_config import get_sso_config_router
from extensions.routes.status import get_status_router
from extensions.runtime import runtime
from extensions.tenancy.accounts.invalidation import make_bus
from extensions.tenancy.accounts.store import AccountStore
from extensions.tenancy.data.scoped_db import ScopedPrisma
from extensions.tenancy.policy.route_policy import load_policy
from extensions.tenancy.request.checks import (
    Check,
    Conflicts,
    EndUserNamespace,
    Guards,
    ReadBody,
    References,
    StoredConfiguration,
)
from extensions.tenancy.request.context import Principal, system_context
from extensions.tenancy.request.middleware import AccountMiddleware
from extensions.tenancy.request.request_ids import RequestIdMiddleware
from extensions.tenancy.request.resolution import TenantResolver

# The isolation checks the middleware runs, in the order the isolation suites test (why this
# order: extensions/tenancy/request/checks.py). Composed here so tenancy/ knows no feature package.
ISOLATION_CHECKS: tuple[Check, ...] = (
    ProviderObjects(),  # before anything reads an LLM body
    ReadBody(),
    Guards(),
    StoredConfiguration(),
    Conflicts(),  # one generic 409 before id references
    References(),
    EntitlementLimits(),  # a plan's counts (keys, teams, users, models) once the request is the account's own
    EndUserNamespace(),  # last of the tenant checks: nothing refuses after the mapping
    Onboarding(),  # invitation links, for every principal
)

__all__ = ["build_app", "install", "served_routes"]

log = logging.getLogger("atrium.app")
# This worker's per-account gateway request counts (the middleware reports, the lifespan flushes).
GATEWAY_COUNTS = GatewayCounts()
# This worker's audit capture (the middleware writes entries once a database is there).
AUDIT = AuditCapture()
# Atrium's stages in LiteLLM's traces (records only when LiteLLM's otel callback is on).
TRACING = RequestTracing()
# The audit's background loops of this worker: pruning, sink forwarding, anchoring.
_AUDIT_LOOPS: list[Pruner | SinkForwarding | Anchoring] = []


def _answered(principal: Principal, scope: Scope, status_code: int) -> None:
    """The account middleware's report of each answer: metering and the audit's principal."""
    AUDIT.answered(principal, scope, status_code)
    GATEWAY_COUNTS.answered(principal, scope, status_code)
    # Routes without LiteLLM's pre-call hook (management, Atrium's): the stages go out now, under
    # LiteLLM's request span if its auth started one. A no-op when the hook already emitted them.
    emit(litellm.request_span_of_scope(scope), Identity(principal.account_id))


Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


async def _on_invalidate(message: dict[str, Any]) -> None:
    """Every worker hears every change: plan changes go to the plans cache, the rest to the resolver
    and the budget settings (an account's budget is published as a change of the account)."""
    if message.get("kind") == plans.INVALIDATION_KIND:
        plans.on_invalidate(message)
        return
    await runtime.resolver.on_invalidate(message)
    if runtime.budget_settings is not None:
        runtime.budget_settings.on_invalidate(message)


async def _start() -> None:
    dsn = os.environ.get("DATABASE_URL")
    runtime.resolver = TenantResolver(None)
    if dsn:
        runtime.pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10)
        runtime.bus = make_bus(dsn, runtime.pool, os.environ.get("REDIS_URL"))
        runtime.resolver = TenantResolver(runtime.pool)
        runtime.budget_settings = BudgetSettingsStore(runtime.pool, runtime.bus)
        await runtime.bus.start(_on_invalidate)
        runtime.accounts = AccountStore(runtime.pool, runtime.bus)
        GATEWAY_COUNTS.start(runtime.pool)
        AUDIT.writer = AuditWriter(runtime.pool)
        sinks = SinkSettings.from_env()
        _AUDIT_LOOPS.extend([Pruner(runtime.pool), SinkForwarding(runtime.pool, sinks)])
        if sinks.anchor_file is not None:
            _AUDIT_LOOPS.append(Anchoring(runtime.pool, sinks))
        for loop in _AUDIT_LOOPS:
            loop.start()
        runtime.budget_alerts = BudgetAlerts(runtime.pool)
        runtime.budget_alerts.start()
        runtime.budgets = BudgetAdmission(runtime.budget_settings, Ledger(runtime.pool), runtime.budget_alerts)
        runtime.budgets.start()
        runtime.monthly_tokens = MonthlyTokens(runtime.pool)
    runtime.prisma_wrapped = litellm.wrap_prisma_db(ScopedPrisma)
    runtime.started = True
    log.info("atrium started", extra={"pid": os.getpid(), "prisma_wrapped": runtime.prisma_wrapped})


async def _stop() -> None:
    if runtime.bus is not None:
        await runtime.bus.stop()
        runtime.bus = None
    runtime.monthly_tokens = None
    if runtime.budgets is not None:
        await runtime.budgets.stop()
        runtime.budgets = None
    if runtime.budget_alerts is not None:
        await runtime.budget_alerts.stop()
        runtime.budget_alerts = None
    while _AUDIT_LOOPS:
        await _AUDIT_LOOPS.pop().stop()
    AUDIT.writer = None
    if runtime.pool is not None:
        await GATEWAY_COUNTS.stop(runtime.pool)
        await runtime.pool.close()
        runtime.pool = None
    runtime.started = False


def _wrap_lifespan(inner: Lifespan) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        # LiteLLM's start-up (config, Prisma connect, background jobs) runs as the system principal.
        with system_context():
            async with inner(app) as state:
                await _start()
                freeze_startup_heap()  # last: everything start-up made is in the frozen heap
                try:
                    yield state
                finally:
                    await _stop()

    return lifespan


def _routed(app: FastAPI, scope: Scope) -> bool:
    """Whether any route of ``app`` matches the request's path, whatever its method."""
    return any(route.matches(scope)[0] is not Match.NONE for route in app.router.routes)


def install(app: FastAPI) -> FastAPI:
    if getattr(app.state, "atrium_installed", False):
        return app
    configure_logging(os.environ.get("ATRIUM_LOG_LEVEL", "INFO"))
    litellm.accept_legacy_engine_attribute()  # before LiteLLM's start-up connects Prisma
    app.add_middleware(ReservationScope, admission=lambda: runtime.budgets)  # sees each exchange's end
    app.add_middleware(ModelNameMasking)  # inside AccountMiddleware: reads the account it decided
    app.add_middleware(
        AccountMiddleware,
        resolver_factory=lambda: runtime.resolver,
        policy=load_policy(),
        checks=ISOLATION_CHECKS,
        replacements=Replacements(),
        routed=lambda scope: _routed(app, scope),
        answered=_answered,
        tracing=TRACING,
    )
    # Outside the account middleware: sees its refusals too, and writes each entry before the answer leaves.
    app.add_middleware(AuditMiddleware, policy=load_policy(), capture=AUDIT)
    app.add_middleware(SigninCapture)  # LiteLLM's password login and onboarding claim (public routes)
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer carries the request id
    install_error_handlers(app)
    app.include_router(get_status_router())
    app.include_router(get_accounts_router())
    app.include_router(get_budgets_router())
    app.include_router(get_identity_router())
    app.include_router(get_sso_config_router())
    app.include_router(get_invitations_router())
    app.include_router(get_budget_alerts_router())
    app.include_router(get_plans_router())
    app.include_router(get_audit_router())
    app.include_router(get_metrics_router())
    app.router.lifespan_context = _wrap_lifespan(app.router.lifespan_context)
    app.state.atrium_installed = True
    return app


def served_routes(*, include_lazy: bool = True) -> list[litellm.RouteInfo]:
    """Every route the served app has: LiteLLM's (lazy features registered) plus Atrium's.

    The route-policy contract test and the isolation sweep list routes through this, so
    a route added on either side is classified and swept.
    """
    return litellm.iter_routes(install(litellm.proxy_app()), include_lazy=include_lazy)


def build_app() -> FastAPI:
    litellm.assert_compatible()
    return install(litellm.proxy_app())
