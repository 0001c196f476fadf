"""The route policy decides once per request; the middleware only carries the decision out."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from extensions.tenancy.policy.decision import PUBLIC_ROUTE, Action
from extensions.tenancy.policy.route_policy import RoutePolicy, load_policy
from extensions.tenancy.request.context import Principal, PrincipalKind, peek_principal
from extensions.tenancy.request.middleware import AccountMiddleware

ADMIN = Principal(PrincipalKind.ACCOUNT_ADMIN, "acct-a", "u")
VIEWER = Principal(PrincipalKind.ACCOUNT_VIEWER, "acct-a", "v")
GLOBAL_KEY = Principal(PrincipalKind.API_KEY, None)
SUPER = Principal(PrincipalKind.SUPER_ADMIN)
ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)
SERVED = frozenset({"spend_logs_ui", "model_crud", "model_info", "model_list", "model_utils", "credentials"})


@pytest.fixture(scope="module")
def policy() -> RoutePolicy:
    return load_policy().serving(SERVED)


@pytest.mark.parametrize(
    ("method", "path", "principal", "action", "vetted"),
    [
        ("GET", "/key/list", ADMIN, Action.ALLOW, True),
        ("GET", "/key/list", VIEWER, Action.ALLOW, True),
        ("POST", "/chat/completions", GLOBAL_KEY, Action.ALLOW, True),
        ("GET", "/spend/logs/ui", ADMIN, Action.REPLACE, True),
        ("GET", "/global/spend/logs", ADMIN, Action.DENY, False),
        ("GET", "/no/such/route", ADMIN, Action.DENY, False),
        ("GET", "/tag/summary", ADMIN, Action.DENY, False),  # replaced, handler not built yet
        ("GET", "/global/spend/logs", SUPER, Action.ALLOW, False),
        ("GET", "/spend/logs/ui", SUPER, Action.ALLOW, False),  # the super admin keeps LiteLLM's handler
        ("GET", "/key/list", ANONYMOUS, Action.ALLOW, False),  # LiteLLM refuses it itself
    ],
)
def test_decisions(
    policy: RoutePolicy, method: str, path: str, principal: Principal, action: Action, vetted: bool
) -> None:
    decision = policy.decide(method, path, principal)
    assert (decision.action, decision.vetted) == (action, vetted)
    assert (decision.error is not None) is (action is Action.DENY)
    if action is Action.DENY:
        assert decision.error is not None and decision.error.code == "route_not_allowed"
        assert decision.error.status == 403


def test_an_anonymous_caller_of_a_public_route_runs_as_the_public_route_principal(policy: RoutePolicy) -> None:
    assert policy.decide("GET", "/health/liveliness", ANONYMOUS).principal is PUBLIC_ROUTE
    assert policy.decide("GET", "/key/list", ANONYMOUS).principal is ANONYMOUS
    assert policy.decide("GET", "/key/list", ADMIN).principal is ADMIN


def test_guards_and_the_raw_sql_flag_come_with_the_decision(policy: RoutePolicy) -> None:
    guarded = policy.decide("POST", "/key/generate", ADMIN)
    assert "access_group_ids" in guarded.guards and not guarded.raw_sql_reviewed
    reviewed = policy.decide("POST", "/team/member_add", ADMIN)
    assert reviewed.raw_sql_reviewed
    # Unrestricted principals are not subject to guards or the raw SQL guard's review.
    assert policy.decide("POST", "/key/generate", SUPER).guards == ()


def test_a_replacement_is_served_only_when_its_handler_exists() -> None:
    bare = load_policy()
    assert bare.decide("GET", "/spend/logs/ui", ADMIN).action is Action.DENY
    assert bare.serving({"spend_logs_ui"}).decide("GET", "/spend/logs/ui", ADMIN).action is Action.REPLACE


class _CountingPolicy(RoutePolicy):
    calls = 0

    def classify(self, method: str, path: str) -> Any:
        type(self).calls += 1
        return super().classify(method, path)


class _Fixed:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    async def resolve(self, scope: Scope, headers: Headers) -> Principal:
        return self.principal


class _Recorder:
    """The app behind the middleware: records the principal it runs under and the scope state."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[tuple[Principal | None, dict[str, Any]]] = []
        self.handlers = SERVED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append((peek_principal(), dict(scope.get("state", {}))))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-served-by", self.name.encode())]})
        await send({"type": "http.response.body", "body": b"{}"})


async def _call(principal: Principal, method: str, path: str) -> tuple[httpx.Response, _Recorder, _Recorder, int]:
    _CountingPolicy.calls = 0
    policy = _CountingPolicy(load_policy().entries)
    app, replacements = _Recorder("litellm"), _Recorder("atrium")
    middleware = AccountMiddleware(app, policy=policy, checks=(), replacements=replacements, resolver=_Fixed(principal))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        response = await client.request(method, path)
    return response, app, replacements, _CountingPolicy.calls


@pytest.mark.parametrize(
    ("principal", "method", "path", "served_by", "status"),
    [
        (ADMIN, "GET", "/spend/logs/ui", "atrium", 200),
        (ADMIN, "GET", "/key/list", "litellm", 200),
        (ADMIN, "GET", "/global/spend/logs", None, 403),
        (ANONYMOUS, "GET", "/health/liveliness", "litellm", 200),
    ],
)
async def test_the_middleware_classifies_once_and_sets_the_principal_once(
    principal: Principal, method: str, path: str, served_by: str | None, status: int
) -> None:
    response, app, replacements, classified = await _call(principal, method, path)
    assert response.status_code == status
    assert classified == 1
    assert response.headers.get("x-served-by") == served_by
    for recorder in (app, replacements):
        for seen, state in recorder.seen:
            assert seen is not None and seen.kind in (principal.kind, PrincipalKind.SYSTEM)
            assert "atrium_tenant" not in state  # one copy of the principal: the context variable
    assert peek_principal() is None


async def test_the_super_admin_is_not_classified() -> None:
    response, app, _, classified = await _call(SUPER, "GET", "/global/spend/logs")
    assert response.status_code == 200 and classified == 0
    assert app.seen[0][0] is SUPER


@pytest.mark.parametrize(("routed", "served_by", "status"), [(False, "litellm", 200), (True, None, 403)])
async def test_an_unclassified_path_reaches_litellm_only_when_no_route_serves_it(
    routed: bool, served_by: str | None, status: int
) -> None:
    """No route at all: LiteLLM's router answers its own 404 (the recorder stands in for it). A route
    that exists but nobody classified stays closed: default deny."""
    app, replacements = _Recorder("litellm"), _Recorder("atrium")
    middleware = AccountMiddleware(
        app, policy=load_policy(), checks=(), replacements=replacements, resolver=_Fixed(ADMIN), routed=lambda _: routed
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        response = await client.get("/no/such/route")
    assert (response.status_code, response.headers.get("x-served-by")) == (status, served_by)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("req-2026.11:abc_DEF", True), ("x" * 128, True), ("x" * 129, False), ("a b", False), ("<script>", False),
     ("é".encode(), False), ("", False)],
)  # fmt: skip
async def test_a_callers_request_id_is_kept_only_when_short_and_plain(sent: str | bytes, kept: bool) -> None:
    """It is echoed in every response and logged on every line: no unbounded or odd echo."""
    middleware = AccountMiddleware(_Recorder("litellm"), policy=load_policy(), checks=(), resolver=_Fixed(ADMIN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        response = await client.get("/key/list", headers={"x-request-id": sent})
    echoed = response.headers["x-request-id"]
    assert (echoed == sent) is kept
    assert kept or re.fullmatch(r"[0-9a-f]{32}", echoed)
