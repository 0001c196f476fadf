"""The routes the entitlement check watches are the policy's own entries, open to tenants: a LiteLLM
upgrade that renames one (or a reclassification that stops the checks from running) fails here."""

from __future__ import annotations

import pytest

from extensions.budgets.entitlements import CREATION_ROUTES
from extensions.tenancy.policy.decision import RouteClass
from extensions.tenancy.policy.route_policy import load_policy

POLICY = load_policy()


@pytest.mark.parametrize("route", sorted(CREATION_ROUTES))
def test_each_watched_creation_route_is_a_classified_tenant_route(route: str) -> None:
    method, template = route.split(" ", 1)
    entry = POLICY.entry_for(method, template)
    assert entry is not None, f"{route} is not in routes.toml: the entitlement check would never see it"
    assert entry.route == route  # the check matches Exchange.route, the entry's own "METHOD /template"
    assert entry.route_class in (RouteClass.TENANT, RouteClass.REPLACED)  # vetted: the checks run
