"""What the route policy decides for one request: allow, serve the replacement, or deny.

:meth:`extensions.tenancy.policy.route_policy.RoutePolicy.decide` computes one :class:`Decision`
per request from the method, the path and the principal; the middleware only carries it
out. The decision also names the principal the request runs as (an anonymous caller of
a public route runs as :data:`PUBLIC_ROUTE`), whether the pre-dispatch isolation checks
apply, the guarded body fields and the raw-SQL review flag, so no later layer
re-classifies the route or compares class strings.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from extensions.errors import RouteNotAllowed
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["PUBLIC_ROUTE", "Action", "Classification", "Decision", "RouteClass", "decide"]

# Login, SSO callbacks and onboarding look a user up by the credential they present, whichever
# account it belongs to; the keys they mint are stamped by the database.
PUBLIC_ROUTE = Principal(PrincipalKind.SYSTEM, user_id="public-route")


class RouteClass(StrEnum):
    PUBLIC = "public"  # no credentials needed
    LLM = "llm"  # API calls with a key; model access enforced by Atrium's hooks
    TENANT = "tenant"  # management routes whose DB access the scoped wrapper filters
    REPLACED = "replaced"  # Atrium serves its own tenant-scoped handler (403 until it exists)
    SUPER_ADMIN = "super_admin"  # global, unsafe or unverified for tenant principals


_OPEN_TO_TENANTS = frozenset({RouteClass.PUBLIC, RouteClass.LLM, RouteClass.TENANT})


@dataclass(frozen=True, slots=True)
class Classification:
    """One entry of the policy: the route template it names and what the runtime must do."""

    method: str  # "GET", ..., "*" (any HTTP method), "WS" or "MOUNT"
    template: str  # the FastAPI path template, e.g. "/key/{key:path}/regenerate"
    route_class: RouteClass
    reason: str
    handler: str | None = None  # replacement handler id, for RouteClass.REPLACED only
    guards: tuple[str, ...] = ()  # body fields tenant requests may carry only once validated
    raw_sql_reviewed: bool = False  # every raw statement the handler reaches is account-safe
    anonymous: bool = False  # replaced only: LiteLLM serves it without credentials, so anonymous
    # callers get the replacement too, never LiteLLM's handler

    @property
    def route(self) -> str:
        return f"{self.method} {self.template}"


class Action(StrEnum):
    ALLOW = "allow"  # LiteLLM (or Atrium's router on the app) serves it
    REPLACE = "replace"  # Atrium's tenant-scoped replacement handler serves it
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    principal: Principal  # the principal the request runs as
    method: str  # "GET", ... or "WS"
    path: str
    classification: Classification | None
    vetted: bool = False  # a tenant principal on an open route: the isolation checks run first
    error: RouteNotAllowed | None = None  # set exactly when action is DENY

    @property
    def route_class(self) -> RouteClass | None:
        return self.classification.route_class if self.classification is not None else None

    @property
    def is_public(self) -> bool:
        return self.route_class is RouteClass.PUBLIC

    @property
    def is_llm(self) -> bool:
        return self.route_class is RouteClass.LLM

    @property
    def guards(self) -> tuple[str, ...]:
        return self.classification.guards if self.vetted and self.classification is not None else ()

    @property
    def raw_sql_reviewed(self) -> bool:
        """Raw SQL of the handler was reviewed as account-safe (lifts the raw SQL guard)."""
        return self.vetted and self.classification is not None and self.classification.raw_sql_reviewed


def _denied(method: str, path: str, classification: Classification | None) -> RouteNotAllowed:
    if classification is None:
        return RouteNotAllowed(
            f"{method} {path} is not available to account principals",
            hint="this route has not been reviewed for tenant isolation; ask the super admin",
        )
    return RouteNotAllowed(
        f"{method} {path} is restricted to the super admin",
        hint="it reads or changes data shared by all accounts",
        route=classification.route,
    )


def decide(
    method: str,
    path: str,
    principal: Principal,
    classification: Classification | None,
    served_handlers: Collection[str],
) -> Decision:
    if principal.kind is PrincipalKind.ANONYMOUS:
        if classification is not None and classification.anonymous:
            # LiteLLM would answer without credentials: the replacement answers, or nobody does.
            if classification.handler in served_handlers:
                return Decision(Action.REPLACE, principal, method, path, classification)
            return Decision(Action.DENY, principal, method, path, classification, error=_denied(method, path, None))
        # No credentials: LiteLLM refuses them itself on anything but its public routes.
        public = classification is not None and classification.route_class is RouteClass.PUBLIC
        return Decision(Action.ALLOW, PUBLIC_ROUTE if public else principal, method, path, classification)
    if not principal.is_tenant_principal:
        return Decision(Action.ALLOW, principal, method, path, classification)
    route_class = classification.route_class if classification is not None else None
    if route_class is RouteClass.REPLACED and classification is not None and classification.handler in served_handlers:
        return Decision(Action.REPLACE, principal, method, path, classification, vetted=True)
    if route_class not in _OPEN_TO_TENANTS:
        error = _denied(method, path, classification)
        return Decision(Action.DENY, principal, method, path, classification, error=error)
    return Decision(Action.ALLOW, principal, method, path, classification, vetted=True)
