"""Which class every LiteLLM route belongs to, and the request matcher the runtime asks.

The classification lives in ``routes.toml`` next to this module (one group per concern,
each with a reason). :class:`RoutePolicy` compiles it once and answers
:meth:`RoutePolicy.classify` for concrete request paths on every request, so it is
precompiled, ordered like Starlette's router would resolve the same path, and cached.

DEFAULT DENY: a request that matches no entry classifies as ``None``, which the runtime
treats as closed to tenant principals. ``tests/tenancy/test_route_policy.py`` walks the
real app (lazy feature routers included) and fails on any route missing from the file, so
a LiteLLM upgrade cannot open a route silently.

No LiteLLM import here: the route list comes in through :meth:`RoutePolicy.unclassified`
and :meth:`RoutePolicy.stale` (``litellm.iter_routes`` produces it).
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol

from extensions.errors import ConfigurationError
from extensions.tenancy.policy.decision import Classification, Decision, RouteClass, decide
from extensions.tenancy.request.context import Principal

__all__ = [
    "DEFAULT_POLICY_PATH",
    "Classification",
    "Decision",
    "RouteClass",
    "RouteLike",
    "RoutePolicy",
    "load_policy",
    "route_keys",
]

DEFAULT_POLICY_PATH = Path(__file__).with_name("routes.toml")

# "*" = any HTTP method; "WS" = a websocket route; "MOUNT" = a mounted sub-app (prefix).
_ANY, _WS, _MOUNT = "*", "WS", "MOUNT"
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ENTRY_METHODS = _HTTP_METHODS | {_ANY, _WS, _MOUNT}
_GROUP_KEYS = frozenset({"class", "reason", "routes", "handler", "guards", "raw_sql_reviewed", "anonymous"})

# Starlette's path convertors (starlette.convertors.CONVERTOR_TYPES).
_CONVERTORS = {
    "str": "[^/]+",
    "path": ".*",
    "int": "[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
_PARAM_RE = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")

DEFAULT_CACHE_SIZE = 8192


# For ambiguous paths: the higher, the fewer principals may use the route.
_STRICTNESS = {"public": 0, "llm": 1, "tenant": 2, "replaced": 3, "super_admin": 4}


class RouteLike(Protocol):
    """What the policy needs of a route (``litellm.RouteInfo`` fits)."""

    @property
    def path(self) -> str: ...

    @property
    def methods(self) -> frozenset[str]: ...

    @property
    def kind(self) -> str: ...  # "http", "websocket" or "mount"


def route_keys(route: RouteLike) -> list[tuple[str, str]]:
    """The (method, template) pairs one route needs covered: one per HTTP method."""
    if route.kind == "mount":
        return [(_MOUNT, route.path)]
    if route.kind == "websocket":
        return [(_WS, route.path)]
    return [(method, route.path) for method in sorted(route.methods)]


@dataclass(frozen=True, slots=True)
class _Compiled:
    entry: Classification
    regex: re.Pattern[str]
    rank: tuple[int, int, int, int]


def _compile(template: str) -> tuple[re.Pattern[str], tuple[int, int, int, int]]:
    """Regex of a path template and its precedence rank (lower is tried first)."""
    pattern, pos, params, path_params = "", 0, 0, 0
    for match in _PARAM_RE.finditer(template):
        convertor = match.group(2) or "str"
        if convertor not in _CONVERTORS:
            raise ConfigurationError(f"route template {template!r}: unknown convertor {convertor!r}")
        pattern += re.escape(template[pos : match.start()]) + f"(?:{_CONVERTORS[convertor]})"
        pos = match.end()
        params += 1
        path_params += convertor == "path"
    pattern += re.escape(template[pos:])
    literal = _PARAM_RE.sub("", template)
    static_segments = sum(1 for seg in template.split("/") if seg and not _PARAM_RE.search(seg))
    # Tie-break between matches of the same class (see RoutePolicy._classify): no catch-all
    # before a catch-all, more literal segments, fewer parameters, longer literal text.
    return re.compile(pattern), (path_params, -static_segments, params, -len(literal))


def _first_segment(path: str) -> str:
    """First path segment, or "" when it is (or contains) a parameter."""
    segment = path.split("/", 2)[1] if path.startswith("/") else ""
    return "" if "{" in segment else segment


def _as_str_list(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError(f"route policy: {what} must be a list of strings")
    return list(value)


def _parse_entry(text: str, where: str) -> tuple[str, str]:
    method, _, template = text.strip().partition(" ")
    template = template.strip()
    if method not in _ENTRY_METHODS or not template.startswith("/") or " " in template:
        raise ConfigurationError(
            f"route policy {where}: bad route {text!r}",
            hint='write "METHOD /template" with METHOD one of GET..., "*", "WS", "MOUNT"',
        )
    return method, template


def _parse_groups(data: Mapping[str, Any]) -> list[Classification]:
    unknown = set(data) - {"group"}
    if unknown:
        raise ConfigurationError(f"route policy: unknown top-level keys {sorted(unknown)}")
    groups = data.get("group")
    if not isinstance(groups, list) or not groups:
        raise ConfigurationError("route policy: no [[group]] tables")
    entries: list[Classification] = []
    for number, group in enumerate(groups, start=1):
        where = f"group #{number}"
        if not isinstance(group, dict):
            raise ConfigurationError(f"route policy {where}: not a table")
        extra = set(group) - _GROUP_KEYS
        if extra:
            raise ConfigurationError(f"route policy {where}: unknown keys {sorted(extra)}")
        try:
            route_class = RouteClass(str(group.get("class")))
        except ValueError:
            raise ConfigurationError(f"route policy {where}: bad class {group.get('class')!r}") from None
        reason = group.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigurationError(f"route policy {where}: every group needs a reason")
        handler = group.get("handler")
        if route_class is RouteClass.REPLACED:
            if not isinstance(handler, str) or not handler.strip():
                raise ConfigurationError(f"route policy {where}: a replaced group needs a handler id")
        elif handler is not None:
            raise ConfigurationError(f"route policy {where}: only replaced groups have a handler")
        guards = tuple(_as_str_list(group.get("guards", []), f"{where} guards"))
        reviewed = group.get("raw_sql_reviewed", False)
        if not isinstance(reviewed, bool):
            raise ConfigurationError(f"route policy {where}: raw_sql_reviewed must be true or false")
        if (guards or reviewed) and route_class is not RouteClass.TENANT:
            raise ConfigurationError(f"route policy {where}: guards/raw_sql_reviewed need class tenant")
        anonymous = group.get("anonymous", False)
        if not isinstance(anonymous, bool):
            raise ConfigurationError(f"route policy {where}: anonymous must be true or false")
        if anonymous and route_class is not RouteClass.REPLACED:
            raise ConfigurationError(f"route policy {where}: anonymous needs class replaced")
        routes = _as_str_list(group.get("routes"), f"{where} routes")
        if not routes:
            raise ConfigurationError(f"route policy {where}: no routes")
        for text in routes:
            method, template = _parse_entry(text, where)
            entries.append(
                Classification(method, template, route_class, reason.strip(), handler, guards, reviewed, anonymous)
            )
    return entries


def _overlaps(entries: Sequence[Classification]) -> list[str]:
    """Routes listed twice, or as "*" and as a specific method of the same template."""
    counts = Counter((entry.method, entry.template) for entry in entries)
    problems = [f"{method} {template}" for (method, template), n in counts.items() if n > 1]
    any_method = {template for method, template in counts if method == _ANY}
    problems += [
        f"{method} {template} (also listed as '* {template}')"
        for method, template in counts
        if method in _HTTP_METHODS and template in any_method
    ]
    return sorted(problems)


class RoutePolicy:
    """The compiled policy. Immutable; :meth:`classify` is cached per (method, path)."""

    def __init__(self, entries: Iterable[Classification], *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.entries: tuple[Classification, ...] = tuple(entries)
        self.served_handlers: frozenset[str] = frozenset()
        overlaps = _overlaps(self.entries)
        if overlaps:
            raise ConfigurationError(
                "route policy lists routes more than once:\n  " + "\n  ".join(overlaps),
                hint="every route belongs to exactly one group",
            )
        self._by_key = {(entry.method, entry.template): entry for entry in self.entries}
        self._exact: dict[tuple[str, str], Classification] = {}
        templated: list[_Compiled] = []
        mounts: list[Classification] = []
        for entry in self.entries:
            if entry.method == _MOUNT:
                mounts.append(entry)
            elif _PARAM_RE.search(entry.template):
                regex, rank = _compile(entry.template)
                templated.append(_Compiled(entry, regex, rank))
            else:
                self._exact[(entry.method, entry.template)] = entry
        # Bucket templated entries by their first literal segment; those that start with a
        # parameter ("/{provider}/v1/files") are candidates for every path.
        buckets: dict[str, list[_Compiled]] = {}
        for compiled in sorted(templated, key=lambda c: c.rank):
            buckets.setdefault(_first_segment(compiled.entry.template), []).append(compiled)
        wildcard = buckets.pop("", [])
        self._buckets = {
            seg: tuple(sorted([*found, *wildcard], key=lambda c: c.rank)) for seg, found in buckets.items()
        }
        self._wildcard = tuple(wildcard)
        # Longest mount first, so a nested mount wins over its parent.
        self._mounts = tuple(sorted(mounts, key=lambda entry: -len(entry.template)))
        self._cached = lru_cache(maxsize=cache_size)(self._classify)

    @classmethod
    def from_toml(cls, text: str) -> RoutePolicy:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"route policy is not valid TOML: {exc}") from exc
        return cls(_parse_groups(data))

    def __len__(self) -> int:
        return len(self.entries)

    def classify(self, method: str, path: str) -> Classification | None:
        """The entry a request resolves to; ``None`` (closed to tenants) when none matches.

        ``method`` is the HTTP method, or ``"WS"`` for a websocket handshake; ``path`` is
        the path as Starlette routes it: decoded, without the root path
        (``starlette.routing.get_route_path(scope)``).

        Resolution: an exact template of that method (or "*"); else the longest mount
        whose prefix contains the path; else, of every parametrised template that matches,
        the strictest class (ties: the most specific template). Starlette itself takes the
        first *registered* match, an order this file does not record; taking the strictest
        makes the answer never more permissive than the handler Starlette will run, and the
        test suite checks the exact-first and mount-first rules against the real app.
        """
        return self._cached(method.upper(), path)

    def serving(self, handlers: Iterable[str]) -> RoutePolicy:
        """This policy with the replacement handlers Atrium serves; other replaced routes stay closed."""
        served = frozenset(handlers)
        unknown = served - set(self.handlers())
        if unknown:
            raise ConfigurationError(
                f"replacement handlers {sorted(unknown)} serve no replaced route of the policy",
                hint="classify their routes as replaced with that handler id in routes.toml",
            )
        view = copy.copy(self)
        view.served_handlers = served
        return view

    def decide(self, method: str, path: str, principal: Principal) -> Decision:
        """The one decision for a request (see :mod:`extensions.tenancy.policy.decision`).

        ``method`` and ``path`` are as for :meth:`classify`. Unrestricted principals are
        not subject to the policy, so their requests are not classified.
        """
        method = method.upper()
        classification = None if principal.unrestricted else self.classify(method, path)
        return decide(method, path, principal, classification, self.served_handlers)

    def _classify(self, method: str, path: str) -> Classification | None:
        websocket = method == _WS
        found = self._exact.get((method, path))
        if found is None and not websocket:
            found = self._exact.get((_ANY, path))
        if found is not None:
            return found
        for mount in self._mounts:
            prefix = mount.template.rstrip("/")
            if path == prefix or path.startswith(prefix + "/"):
                return mount
        best: _Compiled | None = None
        for compiled in self._buckets.get(_first_segment(path), self._wildcard):
            entry = compiled.entry
            if websocket != (entry.method == _WS) or entry.method not in (method, _ANY):
                continue
            if compiled.regex.fullmatch(path) and (
                best is None or _STRICTNESS[entry.route_class] > _STRICTNESS[best.entry.route_class]
            ):
                best = compiled
        return best.entry if best is not None else None

    def lookup(self, route: str) -> Classification | None:
        """The entry for a route key exactly as written in the file, e.g. ``"GET /key/list"``."""
        method, _, template = route.partition(" ")
        return self._by_key.get((method, template))

    def entry_for(self, method: str, template: str) -> Classification | None:
        """The entry covering one (method, template) pair of a route, "*" included."""
        found = self._by_key.get((method, template))
        if found is None and method in _HTTP_METHODS:
            found = self._by_key.get((_ANY, template))
        return found

    def unclassified(self, routes: Iterable[RouteLike]) -> list[str]:
        """Route keys of ``routes`` that no entry covers (the contract test wants none)."""
        missing = {
            f"{method} {template}"
            for route in routes
            for method, template in route_keys(route)
            if self.entry_for(method, template) is None
        }
        return sorted(missing)

    def stale(self, routes: Iterable[RouteLike]) -> list[str]:
        """Entries that name no route of ``routes`` (left behind by an upgrade, or typos)."""
        present: set[tuple[str, str]] = set()
        http_templates: set[str] = set()
        for route in routes:
            present.update(route_keys(route))
            if route.kind == "http":
                http_templates.add(route.path)
        return sorted(
            entry.route
            for entry in self.entries
            if not (
                (entry.method, entry.template) in present or (entry.method == _ANY and entry.template in http_templates)
            )
        )

    def counts(self) -> dict[RouteClass, int]:
        """Number of entries per class."""
        counted = Counter(entry.route_class for entry in self.entries)
        return {route_class: counted.get(route_class, 0) for route_class in RouteClass}

    def handlers(self) -> dict[str, list[str]]:
        """Replacement handler id -> the routes it must serve."""
        found: dict[str, list[str]] = {}
        for entry in self.entries:
            if entry.handler is not None:
                found.setdefault(entry.handler, []).append(entry.route)
        return found


@cache
def _load(path: Path) -> RoutePolicy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read route policy {path}: {exc}") from exc
    return RoutePolicy.from_toml(text)


def load_policy(path: str | Path | None = None) -> RoutePolicy:
    """The policy in ``path`` (default: ``routes.toml`` beside this module), loaded once."""
    return _load(Path(path).resolve() if path is not None else DEFAULT_POLICY_PATH)
