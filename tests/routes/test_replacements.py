"""The replacement handlers served are read off the routers and match routes.toml both ways."""

from __future__ import annotations

import pytest
from fastapi import APIRouter

from extensions.errors import ConfigurationError
from extensions.routes.replacements import HANDLERS, Replacements, replacement_routers
from extensions.routes.replacements.handlers import handler_table, mismatches, serves
from extensions.tenancy.policy.decision import Action
from extensions.tenancy.policy.route_policy import RouteClass, load_policy
from extensions.tenancy.request.context import Principal, PrincipalKind


def test_served_handlers_equal_the_replaced_entries_of_the_policy() -> None:
    policy = load_policy()
    table = handler_table(replacement_routers())
    assert mismatches(table, policy.handlers()) == []
    assert set(table) == HANDLERS == Replacements().handlers
    replaced = {e.handler for e in policy.entries if e.route_class is RouteClass.REPLACED}
    assert replaced >= HANDLERS


def test_a_replaced_route_without_a_handler_route_is_reported() -> None:
    table = handler_table(replacement_routers())
    table["model_list"] = table["model_list"] - {"GET /cursor/models"}
    assert mismatches(table, load_policy().handlers()) == [
        "model_list: GET /cursor/models is replaced but has no route"
    ]


def test_a_handler_route_not_classified_replaced_is_reported() -> None:
    extra = APIRouter()

    @extra.get("/key/list", openapi_extra=serves("model_list"))
    async def key_list() -> None: ...

    @extra.get("/anything", openapi_extra=serves("not_in_the_policy"))
    async def anything() -> None: ...

    problems = mismatches(handler_table([*replacement_routers(), extra]), load_policy().handlers())
    assert sorted(problems) == [
        "handler 'not_in_the_policy' is not a replaced handler of the route policy",
        "model_list: GET /key/list is served but not classified replaced",
    ]


def test_the_policy_refuses_to_serve_a_handler_it_does_not_know() -> None:
    with pytest.raises(ConfigurationError):
        load_policy().serving({"not_in_the_policy"})
    assert load_policy().serving(HANDLERS).served_handlers == HANDLERS


def test_every_replaced_group_has_a_served_handler() -> None:
    replaced = {e.handler for e in load_policy().entries if e.route_class is RouteClass.REPLACED}
    # A replaced group without a served handler would answer tenant principals 403 (issue 13).
    assert replaced - HANDLERS == set()


def test_anonymous_callers_of_a_public_litellm_route_get_the_replacement_or_nothing() -> None:
    anonymous = Principal(PrincipalKind.ANONYMOUS)
    path = "/public/litellm_model_cost_map"
    assert load_policy().serving(HANDLERS).decide("GET", path, anonymous).action is Action.REPLACE
    assert load_policy().serving(HANDLERS - {"model_cost_map"}).decide("GET", path, anonymous).action is Action.DENY
    assert load_policy().serving(HANDLERS).decide("GET", "/spend/logs", anonymous).action is Action.ALLOW
