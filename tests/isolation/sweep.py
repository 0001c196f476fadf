"""The isolation sweep as a function: plan every call from a route policy, run it, judge it.

Kept apart from the test module so the same sweep runs against the session proxy and
against a proxy started with a deliberately broken policy (``test_route_table.py``).
Everything here uses the HTTP surface and public helpers only: the served OpenAPI for
parameters, ``load_policy()`` for classes, the database for another account's values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
from identifiers import found_in

from extensions.tenancy.policy.route_policy import RoutePolicy

__all__ = [
    "SERVED_HANDLERS",
    "Call",
    "Outcome",
    "Route",
    "Rule",
    "closed_calls",
    "foreign_calls",
    "judge",
    "own_calls",
    "routes_of",
    "run",
    "unused",
]

# Replacement handlers Atrium serves today (docs/route-policy.md). Stated, not imported: a handler
# that disappears makes its routes answer 403 to the own-data calls, one added makes its routes
# answer 2xx to the closed calls, and either way the sweep says so.
SERVED_HANDLERS = frozenset(
    {
        "spend_logs_ui",
        "model_crud",
        "model_info",
        "model_list",
        "model_utils",
        "credentials",
        "user_info",
        "daily_activity_user",
        "daily_activity_team",
        "daily_activity_tag",
        "daily_activity_customer",
        "tag_summary",
        "tag_active_users",
        "spend_logs",
        "spend_log_filters",
        "budgets_list",
        "key_aliases",
        "team_spend_by_user",
        "guardrails_list",
        "policies_list",
        "prompts_list",
        "agents_list",
        "mcp_servers_list",
        "vector_stores_list",
        "model_cost_map",
        "gateway_activity",
        "gateway_errors",
        "audit_log",
    }
)

OPEN_CLASSES = ("public", "llm", "tenant", "replaced")
_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")
# Calls that end the caller's own session or rotate its own key would blind the rest of the sweep.
SELF_AFFECTING = re.compile(r"^/(session/logout|key/regenerate|key/\{[^}]+\}/regenerate|logout)")
ID_LIKE = re.compile(
    r"(^id$|_id$|_ids$|Id$|^email$|_email$|^key$|_key$|^keys$|^token$|_hash$|^tags?$|^members$|^teams?$"
    r"|_link$|^names?$|_name$|^user$|^end_user$|^model$)"
)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    route_class: str  # public, llm, tenant, replaced (served), closed (super_admin, unserved, unclassified)


@dataclass(frozen=True)
class Call:
    who: str
    variant: str  # own, foreign or closed
    route: Route
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    placed: tuple[str, ...] = ()  # where another account's values were put ("query:team_id", ...)


@dataclass(frozen=True)
class Outcome:
    call: Call
    status: int | None  # None: transport error
    text: str
    leaked: tuple[str, ...]


def routes_of(policy: RoutePolicy, served: Iterable[Any]) -> list[Route]:
    """Every HTTP (method, template) the app serves, with the class the policy gives it."""
    found: set[Route] = set()
    for route in served:
        if route.kind != "http":
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            entry = policy.entry_for(method, route.path)
            if entry is None:
                cls = "closed"
            elif str(entry.route_class) == "replaced":
                cls = "replaced" if entry.handler in SERVED_HANDLERS else "closed"
            elif str(entry.route_class) == "super_admin":
                cls = "closed"
            else:
                cls = str(entry.route_class)
            found.add(Route(method, route.path, cls))
    return sorted(found, key=lambda r: (bool(SELF_AFFECTING.match(r.template)), r.template, r.method))


# --- parameters, from the served OpenAPI ------------------------------------------------------


def _resolve(spec: dict[str, Any], schema: Any) -> dict[str, Any]:
    for _ in range(5):
        if not isinstance(schema, dict):
            return {}
        if "$ref" in schema:
            target: Any = spec
            for part in str(schema["$ref"]).removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = target
            continue
        for combo in ("anyOf", "oneOf", "allOf"):
            options = [o for o in schema.get(combo, []) if isinstance(o, dict) and o.get("type") != "null"]
            if options and "properties" not in schema and "type" not in schema:
                schema = options[0]
                break
        else:
            return schema
    return schema if isinstance(schema, dict) else {}


@dataclass(frozen=True)
class Params:
    path: tuple[str, ...]
    query: tuple[str, ...]
    body: dict[str, dict[str, Any]]  # property -> resolved schema (top level of a JSON body)
    required: tuple[str, ...]
    required_query: dict[str, dict[str, Any]] = field(default_factory=dict)


def parameters(spec: dict[str, Any], method: str, template: str) -> Params:
    operation = spec.get("paths", {}).get(template, {}).get(method.lower(), {})
    path = tuple(p["name"] for p in operation.get("parameters", []) if p.get("in") == "path")
    query = tuple(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
    required_query = {
        p["name"]: _resolve(spec, p.get("schema", {}))
        for p in operation.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = _resolve(spec, content.get("schema", {}))
    props = {name: _resolve(spec, sub) for name, sub in schema.get("properties", {}).items()}
    return Params(
        path or tuple(_PATH_PARAM.findall(template)), query, props, tuple(schema.get("required", [])), required_query
    )


def _filler(schema: dict[str, Any]) -> Any:
    """A valid value of a non-id field, so a request gets past validation to the handler."""
    kind = schema.get("type")
    if schema.get("format") == "date" or "date" in str(schema.get("title", "")).lower():
        return "2020-01-01"
    if "enum" in schema:
        return schema["enum"][0]
    return {"integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}.get(str(kind), "sweep")


_DATES = ("start_date", "end_date")

# --- values -----------------------------------------------------------------------------------

Values = Callable[[str, str], str | None]  # (template, parameter name) -> a value of the account, or None


def fill(
    route: Route, params: Params, value_of: Values, *, include_body: bool = True
) -> tuple[str, dict[str, str], Any, tuple[str, ...]]:
    """Path, query and JSON body with every id-typed parameter set from ``value_of``."""
    placed: list[str] = []

    def path_value(match: re.Match[str]) -> str:
        value = value_of(route.template, match.group(1))
        if value is None:
            return "sweep-none"
        placed.append(f"path:{match.group(1)}")
        return value

    path = _PATH_PARAM.sub(path_value, route.template)
    query: dict[str, str] = {}
    for name in params.query:
        if ID_LIKE.search(name) and (value := value_of(route.template, name)) is not None:
            query[name] = value
            placed.append(f"query:{name}")
        elif name in params.required_query or (name in _DATES and "/daily/" in route.template):
            query[name] = str(_filler(params.required_query.get(name, {"format": "date"})))
    body: dict[str, Any] | None = None
    if include_body and route.method in ("POST", "PUT", "PATCH"):
        body = {}  # also where the handler reads the raw request: an empty body is not what we test
    if body is not None:
        for name, schema in params.body.items():
            # In a provider request `api_key` is a provider credential, not a virtual key.
            skip = route.route_class == "llm" and name == "api_key"
            value = value_of(route.template, name) if ID_LIKE.search(name) and not skip else None
            if value is not None:
                body[name] = [value] if schema.get("type") == "array" else value
                placed.append(f"body:{name}")
            elif name in params.required:
                body[name] = _filler(schema)
    return path, query, body, tuple(placed)


def own_calls(routes: list[Route], spec: dict[str, Any], values_of: dict[str, Values]) -> list[Call]:
    """Reads of the caller's own data: every open GET route with the account's own ids (per principal:
    its own key and user where the route names one)."""
    calls: list[Call] = []
    for route in routes:
        if route.route_class == "closed" or route.method != "GET":
            continue
        for who, value_of in values_of.items():
            path, query, _, placed = fill(route, parameters(spec, route.method, route.template), value_of)
            calls.append(Call(who, "own", route, path, query, None, placed))
    return calls


def foreign_calls(routes: list[Route], spec: dict[str, Any], who: Iterable[str], value_of: Values) -> list[Call]:
    """Every open route that takes an id, called with another account's real ids in every id parameter."""
    calls: list[Call] = []
    for route in routes:
        if route.route_class == "closed":
            continue
        path, query, body, placed = fill(route, parameters(spec, route.method, route.template), value_of)
        if placed:
            calls += [Call(w, "foreign", route, path, query, body, placed) for w in who]
    return calls


def closed_calls(routes: list[Route], who: Iterable[str], value_of: Values) -> list[Call]:
    calls: list[Call] = []
    for route in routes:
        if route.route_class != "closed":
            continue
        path, _, _, placed = fill(route, Params((), (), {}, ()), value_of, include_body=False)
        body = {} if route.method != "GET" else None
        calls += [Call(w, "closed", route, path, {}, body, placed) for w in who]
    return calls


# --- running and judging ----------------------------------------------------------------------


def _send(client: httpx.Client, call: Call, identifiers: dict[str, str]) -> Outcome:
    try:
        response = client.request(call.route.method, call.path, params=call.params or None, json=call.body, timeout=30)
    except httpx.HTTPError as exc:
        return Outcome(call, None, f"transport error {type(exc).__name__}: {exc}", ())
    # Values the caller sent itself are not a leak, in either spelling of the URL.
    sent = str(response.request.url) + unquote(str(response.request.url))
    sent += response.request.content.decode(errors="replace")
    received = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return Outcome(call, response.status_code, response.text[:300], tuple(found_in(received, identifiers, sent)))


def run(
    clients: dict[str, httpx.Client], calls: list[Call], identifiers: dict[str, str], *, parallel: bool = True
) -> list[Outcome]:
    """Each principal's calls in order (self-affecting last); principals side by side when ``parallel``
    (reads), else one after the other, so one principal's write cannot change another's answer."""
    by_who: dict[str, list[Call]] = {}
    for call in calls:
        by_who.setdefault(call.who, []).append(call)

    def one(who: str) -> list[Outcome]:
        ordered = sorted(by_who[who], key=lambda c: bool(SELF_AFFECTING.match(c.route.template)))
        return [_send(clients[who], call, identifiers) for call in ordered]

    if not parallel:
        return [outcome for who in by_who for outcome in one(who)]
    with ThreadPoolExecutor(max_workers=max(1, len(by_who))) as pool:
        return [outcome for found in pool.map(one, list(by_who)) for outcome in found]


@dataclass(frozen=True)
class Expected:
    statuses: frozenset[int]
    reason: str


@dataclass(frozen=True)
class Rule:
    """A stated exception: the one answer a group of calls gets instead of the default, and why."""

    variant: str  # own, foreign, closed or * (any)
    route: str  # regular expression over "METHOD /template" (full match)
    who: frozenset[str] | None  # None: every principal
    statuses: frozenset[int]
    reason: str

    def matches(self, call: Call) -> bool:
        return (
            self.variant in ("*", call.variant)
            and (self.who is None or call.who in self.who)
            and re.fullmatch(self.route, f"{call.route.method} {call.route.template}") is not None
        )


def expected(call: Call, rules: list[Rule], claims: frozenset[str]) -> Expected:
    for rule in rules:
        if rule.matches(call):
            return Expected(rule.statuses, rule.reason)
    if call.variant == "closed":
        return Expected(frozenset({401, 403}), "closed to tenant principals")
    if call.variant == "foreign":
        if f"{call.route.method} {call.route.template}" in claims:
            return Expected(frozenset({403, 404, 409}), "an id another account holds, claimed: one generic 409")
        return Expected(frozenset({403, 404}), "another account's id is not found")
    return Expected(frozenset(range(200, 300)), "the caller's own data")


def unused(outcomes: list[Outcome], rules: list[Rule]) -> list[str]:
    """Rules no call matched: stale exceptions are removed, not kept as blanket allowances."""
    return [
        f"UNUSED RULE {r.variant} {r.route} ({r.reason})" for r in rules if not any(r.matches(o.call) for o in outcomes)
    ]


def judge(outcomes: list[Outcome], rules: list[Rule], claims: frozenset[str] = frozenset()) -> list[str]:
    """Every outcome that is not the stated one, or that carries another account's identifiers."""
    problems: list[str] = []
    for outcome in outcomes:
        call = outcome.call
        label = f"{call.variant} {call.who} {call.route.method} {call.path} [{call.route.route_class}]"
        if call.placed:
            label += f" {','.join(call.placed)}"
        if outcome.leaked:
            problems.append(f"LEAK {label} -> {outcome.status}: {list(outcome.leaked[:5])}")
        if outcome.status is None:
            problems.append(f"NO ANSWER {label}: {outcome.text}")
            continue
        want = expected(call, rules, claims)
        if outcome.status not in want.statuses:
            problems.append(
                f"STATUS {label} -> {outcome.status}, expected {sorted(want.statuses)[:4]}"
                f"{'...' if len(want.statuses) > 4 else ''} ({want.reason}): {outcome.text[:160]}"
            )
    return problems
