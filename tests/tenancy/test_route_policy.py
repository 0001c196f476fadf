"""The route policy against the real LiteLLM app: complete, unambiguous, current, and safe.

The contract tests walk every route of the running app, LiteLLM's lazily registered feature
routers included, so a LiteLLM upgrade that adds a route fails here until someone classifies
it in ``extensions/tenancy/policy/routes.toml`` (see docs/route-policy.md).
"""

from __future__ import annotations

import os
import re
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from starlette.routing import compile_path

from extensions.app import served_routes
from extensions.errors import ConfigurationError
from extensions.litellm import RouteInfo
from extensions.tenancy.policy.route_policy import (
    DEFAULT_POLICY_PATH,
    RouteClass,
    RoutePolicy,
    load_policy,
    route_keys,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
STRICTNESS = {
    RouteClass.PUBLIC: 0,
    RouteClass.LLM: 1,
    RouteClass.TENANT: 2,
    RouteClass.REPLACED: 3,
    RouteClass.SUPER_ADMIN: 4,
}
P, L, T, R, S = (
    RouteClass.PUBLIC,
    RouteClass.LLM,
    RouteClass.TENANT,
    RouteClass.REPLACED,
    RouteClass.SUPER_ADMIN,
)


@pytest.fixture(scope="module")
def app_routes() -> list[RouteInfo]:
    """Every route of the served app (LiteLLM's, lazy feature routers registered, plus Atrium's)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # as `atrium` does: no network
    return served_routes(include_lazy=True)


@pytest.fixture(scope="module")
def policy() -> RoutePolicy:
    return load_policy()


# --- (a) contract: every route is classified -------------------------------------------


def test_every_route_of_the_app_is_classified(app_routes: list[RouteInfo], policy: RoutePolicy) -> None:
    missing = policy.unclassified(app_routes)
    assert not missing, (
        f"{len(missing)} LiteLLM route(s) are not in extensions/tenancy/policy/routes.toml; classify each "
        "(docs/route-policy.md):\n  " + "\n  ".join(missing)
    )


def test_the_walk_includes_lazy_routers_websockets_and_mounts(app_routes: list[RouteInfo]) -> None:
    paths = {(r.kind, r.path) for r in app_routes}
    assert ("http", "/v1/mcp/server") in paths  # lazily registered feature router
    assert ("http", "/scim/v2/Users") in paths  # lazily registered feature router
    assert ("websocket", "/v1/realtime") in paths
    assert ("mount", "/ui") in paths
    assert ("mount", "/mcp") in paths  # lazily mounted sub-app


# --- (b) one group per route -----------------------------------------------------------


def test_no_route_is_listed_twice() -> None:
    data = tomllib.loads(DEFAULT_POLICY_PATH.read_text())
    listed = Counter(tuple(route.split(" ", 1)) for group in data["group"] for route in group["routes"])
    twice = sorted(f"{m} {t}" for (m, t), n in listed.items() if n > 1)
    assert not twice, f"listed in more than one place: {twice}"
    any_method = {t for (m, t) in listed if m == "*"}
    overlap = sorted(f"{m} {t}" for (m, t) in listed if m not in ("*", "WS", "MOUNT") and t in any_method)
    assert not overlap, f"listed both as '*' and per method: {overlap}"


def test_every_route_maps_to_exactly_one_entry(app_routes: list[RouteInfo], policy: RoutePolicy) -> None:
    for route in app_routes:
        for method, template in route_keys(route):
            entry = policy.entry_for(method, template)
            assert entry is not None and entry.template == template


# --- (c) classify() of concrete request paths -------------------------------------------

EXAMPLES = [
    # method, concrete path, class, template it resolves to
    ("POST", "/chat/completions", L, "/chat/completions"),
    ("POST", "/v1/chat/completions", L, "/v1/chat/completions"),
    ("post", "/v1/chat/completions", L, "/v1/chat/completions"),
    # Ambiguous with the pass-through catch-all (super_admin): the strictest match wins.
    ("POST", "/openai/deployments/gpt-4o/chat/completions", S, "/openai/deployments/{model:path}/chat/completions"),
    ("POST", "/azure/openai/deployments/gpt-4o/chat/completions", S, "/azure/{endpoint:path}"),
    ("POST", "/engines/acct/gpt-4o/chat/completions", L, "/engines/{model:path}/chat/completions"),
    ("POST", "/v1/embeddings", L, "/v1/embeddings"),
    ("POST", "/v1/messages", L, "/v1/messages"),
    (
        "POST",
        "/v1beta/models/gemini-2.0:generateContent",
        L,
        "/v1beta/models/{model_name:path}:generateContent",
    ),
    ("GET", "/v1/models", R, "/v1/models"),
    ("GET", "/v1/files/file-abc/content", L, "/v1/files/{file_id:path}/content"),
    ("GET", "/openai/v1/files", S, "/openai/{endpoint:path}"),
    ("GET", "/hosted_vllm/v1/files", L, "/{provider}/v1/files"),
    ("POST", "/anthropic/v1/messages", S, "/anthropic/{endpoint:path}"),
    ("WS", "/v1/realtime", L, "/v1/realtime"),
    ("WS", "/openai/v1/some/socket", S, "/openai/{endpoint:path}"),
    ("POST", "/key/generate", T, "/key/generate"),
    ("POST", "/key/regenerate", T, "/key/regenerate"),
    ("POST", "/key/sk-123/regenerate", T, "/key/{key:path}/regenerate"),
    ("POST", "/key/sk-123/reset_spend", T, "/key/{key:path}/reset_spend"),
    ("GET", "/key/list", T, "/key/list"),
    ("PATCH", "/team/team-1", T, "/team/{team_id}"),
    ("POST", "/team/team-1/member/user-1/reset_spend", T, "/team/{team_id}/member/{user_id}/reset_spend"),
    ("GET", "/management/v1/users/me", T, "/management/v1/users/me"),
    ("GET", "/user/daily/activity/aggregated", R, "/user/daily/activity/aggregated"),
    ("GET", "/spend/logs/ui/req-1", R, "/spend/logs/ui/{request_id}"),
    ("GET", "/guardrails/list", R, "/guardrails/list"),  # the exact template beats /guardrails/{id}
    ("GET", "/guardrails/g-1", S, "/guardrails/{guardrail_id}"),
    ("GET", "/ui", P, "/ui"),
    ("GET", "/ui/", P, "/ui"),
    ("GET", "/ui/anything/page.js", P, "/ui"),
    ("GET", "/ui/mcp", P, "/ui"),  # the mount, as in Starlette, not /{mcp_server_name}/mcp
    ("GET", "/_next/static/chunk.js", P, "/_next"),
    ("HEAD", "/openapi.json", P, "/openapi.json"),
    ("GET", "/health/liveliness", P, "/health/liveliness"),
    ("GET", "/.well-known/oauth-authorization-server", P, "/.well-known/oauth-authorization-server"),
    ("GET", "/mcp/tools/list", S, "/mcp"),  # inside the lazily mounted MCP app
    ("POST", "/my-server/mcp", S, "/{mcp_server_name}/mcp"),
    ("POST", "/openai/mcp", S, "/{mcp_server_name}/mcp"),  # ambiguous: the strictest match wins
    ("POST", "/config/update", S, "/config/update"),
]


@pytest.mark.parametrize(("method", "path", "route_class", "template"), EXAMPLES)
def test_classify_concrete_paths(
    policy: RoutePolicy, method: str, path: str, route_class: RouteClass, template: str
) -> None:
    found = policy.classify(method, path)
    assert found is not None, f"{method} {path} is unclassified"
    assert (found.route_class, found.template) == (route_class, template)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/definitely/not/a/route"),
        ("GET", "/key/list/extra"),
        ("DELETE", "/key/list"),  # the route exists, not for this method: Starlette answers 405
        ("GET", "/uix"),  # a prefix of no mount: /ui matches /ui and /ui/..., not /uix
        ("WS", "/v1/chat/completions"),  # HTTP-only route, websocket handshake
        ("POST", "/v1/realtime-not"),
    ],
)
def test_unknown_paths_are_unclassified(policy: RoutePolicy, method: str, path: str) -> None:
    assert policy.classify(method, path) is None


def test_classification_carries_reason_handler_and_guards(policy: RoutePolicy) -> None:
    replaced = policy.classify("GET", "/spend/logs/ui")
    assert replaced is not None and replaced.handler == "spend_logs_ui" and replaced.reason
    guarded = policy.classify("POST", "/key/generate")
    assert guarded is not None and "access_group_ids" in guarded.guards
    assert guarded.route == "POST /key/generate"


def test_raw_sql_review_is_explicit_and_only_where_verified(policy: RoutePolicy) -> None:
    reviewed = {e.route for e in policy.entries if e.raw_sql_reviewed}
    assert {
        "POST /team/member_add",
        "POST /team/delete",
        "POST /user/delete",
        "POST /team/update",
    } <= reviewed
    # raw SQL there only runs for an unvalidated access_group_ids: the raw SQL guard must refuse it
    assert "POST /key/generate" not in reviewed and "POST /key/update" not in reviewed
    assert all(e.route_class is RouteClass.TENANT for e in policy.entries if e.raw_sql_reviewed)


def test_classify_is_cached_and_fast(policy: RoutePolicy) -> None:
    assert policy.classify("GET", "/key/sk-1/regenerate") is policy.classify("get", "/key/sk-1/regenerate")
    paths = [f"/v1/files/file-{i}/content" for i in range(2000)]
    start = time.perf_counter()
    for path in paths:  # uncached: every path is new
        policy.classify("GET", path)
    for _ in range(5):  # cached
        for path in paths:
            policy.classify("GET", path)
    assert time.perf_counter() - start < 2.0


# --- the resolution rules never grant more than Starlette's router would -----------------

_PARAM = re.compile(r"{([^}:]+)(?::([^}]+))?}")


def _starlette_dispatch(table: list[tuple[RouteInfo, re.Pattern[str]]], method: str, path: str) -> RouteInfo | None:
    """The route Starlette's router runs for (method, path): the first full match in order."""
    websocket = method == "WS"
    for route, regex in table:
        if route.kind == "mount":
            if path == route.path or path.startswith(route.path.rstrip("/") + "/"):
                return route
        elif websocket == (route.kind == "websocket") and regex.match(path):
            if websocket or method in route.methods:
                return route
    return None


def _sample_paths(template: str, segments: set[str], tails: set[str]) -> set[str]:
    """Concrete paths for a template: neutral values, plus values that collide with literals."""
    samples = {_PARAM.sub(lambda m: "x/y" if m.group(2) == "path" else "x", template)}
    for match in _PARAM.finditer(template):
        if match.group(2) == "path":
            values: set[str] = tails
        elif match.start() == 1:  # a leading parameter: try every first segment of the app
            values = segments
        else:
            continue
        for value in values:
            samples.add(template[: match.start()] + value + template[match.end() :])
    return {_PARAM.sub("x", sample) for sample in samples}


def test_classification_is_never_more_permissive_than_the_dispatched_route(
    app_routes: list[RouteInfo], policy: RoutePolicy
) -> None:
    table = [
        (route, compile_path(route.path)[0] if route.kind != "mount" else re.compile("$^")) for route in app_routes
    ]
    segments = {seg for r in app_routes for seg in r.path.split("/") if seg and "{" not in seg}
    tails: set[str] = set()
    for route in app_routes:
        parts = [seg for seg in route.path.split("/") if seg]
        tails.update("/".join(parts[-n:]) for n in (1, 2, 3) if len(parts) >= n and "{" not in "".join(parts[-n:]))
    too_open: list[str] = []
    mismatched: list[str] = []
    for route in app_routes:
        if route.kind == "mount":
            methods, base = ["GET", "POST"], route.path.rstrip("/") + "/a/b"
        else:
            methods = ["WS"] if route.kind == "websocket" else sorted(route.methods)
            base = route.path
        canonical = _PARAM.sub(lambda m: "x/y" if m.group(2) == "path" else "x", base)
        for path in _sample_paths(base, segments, tails):
            for method in methods:
                dispatched = _starlette_dispatch(table, method, path)
                if dispatched is None:
                    continue
                keys = route_keys(dispatched)
                key = next((k for k in keys if k[0] == method), keys[0])
                expected = policy.entry_for(*key)
                found = policy.classify(method, path)
                assert expected is not None
                if found is None or STRICTNESS[found.route_class] < STRICTNESS[expected.route_class]:
                    too_open.append(f"{method} {path}: runs {expected.route}, classified {found}")
                elif path == canonical and found.route_class is not expected.route_class:
                    mismatched.append(f"{method} {path}: runs {expected.route}, classified {found.route}")
    assert not too_open, "classify() is more permissive than Starlette's dispatch:\n  " + "\n  ".join(too_open)
    assert not mismatched, "classify() disagrees with Starlette on plain paths:\n  " + "\n  ".join(mismatched)


# --- (d) no stale entries ----------------------------------------------------------------


def test_every_entry_names_a_route_of_the_app(app_routes: list[RouteInfo], policy: RoutePolicy) -> None:
    stale = policy.stale(app_routes)
    assert not stale, "routes.toml names routes the app does not have (remove or fix them):\n  " + "\n  ".join(stale)


# --- (e) sanity: known-global and known-raw routes --------------------------------------

KNOWN_SUPER_ADMIN = [
    "POST /config/update",
    "GET /config/list",
    "GET /get/config/callbacks",
    "GET /global/spend/logs",
    "POST /global/spend/reset",
    "GET /global/activity",
    "GET /cache/ping",
    "POST /cache/flushall",
    "POST /organization/new",
    "GET /organization/list",
    "GET /health/license",
    "GET /health",
    "GET /telemetry/settings",
    "GET /router/settings",
    "GET /get/sso_settings",
    "PATCH /update/sso_settings",
    "GET /alerting/settings",
    "GET /debug/asyncio-tasks",
    "GET /key/spend/report",
    "POST /v1/mcp/server",
    "* /langfuse/{endpoint:path}",
]

KNOWN_REPLACED = [
    "GET /user/daily/activity/aggregated",
    "GET /team/daily/activity/aggregated",
    "GET /tag/daily/activity/aggregated",
    "GET /tag/summary",
    "GET /spend/logs/ui",
    "GET /spend/logs/session/ui",
    "GET /management/v1/budgets",
    "GET /v2/model/info",
    "GET /model/info",
    "GET /credentials",
    "POST /model/new",
    "GET /user/info",
]


@pytest.mark.parametrize("route", KNOWN_SUPER_ADMIN)
def test_known_global_routes_are_super_admin(policy: RoutePolicy, route: str) -> None:
    entry = policy.lookup(route)
    assert entry is not None and entry.route_class is RouteClass.SUPER_ADMIN


@pytest.mark.parametrize("route", KNOWN_REPLACED)
def test_known_raw_sql_tenant_routes_are_replaced(policy: RoutePolicy, route: str) -> None:
    entry = policy.lookup(route)
    assert entry is not None and entry.route_class is RouteClass.REPLACED and entry.handler


def test_organization_routes_are_all_super_admin(policy: RoutePolicy) -> None:
    org = [e for e in policy.entries if e.template.startswith(("/organization/", "/v2/organization/"))]
    assert org and all(e.route_class is RouteClass.SUPER_ADMIN for e in org)


def test_docs_list_every_replacement_handler(policy: RoutePolicy) -> None:
    docs = (REPO_ROOT / "docs" / "route-policy.md").read_text()
    undocumented = sorted(h for h in policy.handlers() if f"`{h}`" not in docs)
    assert not undocumented, f"docs/route-policy.md does not describe handlers {undocumented}"


# --- the loader refuses malformed policies ------------------------------------------------


@pytest.mark.parametrize(
    "toml",
    [
        '[[group]]\nclass = "replaced"\nreason = "r"\nroutes = ["GET /a"]\n',  # no handler
        '[[group]]\nclass = "tenant"\nreason = "r"\nhandler = "h"\nroutes = ["GET /a"]\n',
        '[[group]]\nclass = "llm"\nreason = "r"\nguards = ["x"]\nroutes = ["GET /a"]\n',
        '[[group]]\nclass = "llm"\nreason = "r"\nraw_sql_reviewed = true\nroutes = ["GET /a"]\n',
        '[[group]]\nclass = "tenant"\nreason = "r"\nraw_sql_reviewed = "yes"\nroutes = ["GET /a"]\n',
        '[[group]]\nclass = "root"\nreason = "r"\nroutes = ["GET /a"]\n',
        '[[group]]\nclass = "tenant"\nreason = ""\nroutes = ["GET /a"]\n',
        '[[group]]\nclass = "tenant"\nreason = "r"\nroutes = ["FETCH /a"]\n',
        '[[group]]\nclass = "tenant"\nreason = "r"\nroutes = ["GET a"]\n',
        '[[group]]\nclass = "tenant"\nreason = "r"\nroutes = []\n',
        '[[group]]\nclass = "tenant"\nreason = "r"\nroute = ["GET /a"]\n',
        '[[group]]\nclass = "tenant"\nreason = "r"\nroutes = ["GET /a", "GET /a"]\n',
        '[[group]]\nclass = "tenant"\nreason = "r"\nroutes = ["GET /a"]\n'
        '[[group]]\nclass = "llm"\nreason = "r"\nroutes = ["* /a"]\n',
        '[[group]]\nclass = "tenant"\nreason = "r"\nroutes = ["GET /a/{x:weird}"]\n',
        "[[prefix]]\npath = '/a'\n",
    ],
)
def test_malformed_policies_are_refused(toml: str) -> None:
    with pytest.raises(ConfigurationError):
        RoutePolicy.from_toml(toml)


def test_load_policy_is_cached() -> None:
    assert load_policy() is load_policy(DEFAULT_POLICY_PATH)
