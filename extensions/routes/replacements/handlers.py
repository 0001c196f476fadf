"""Which replacement handler each route of Atrium's replacement routers implements.

Every route of a replacement router names its handler id (``serves("model_list")`` as the
route's ``openapi_extra``), so the table of served handlers is read off the routers, never
written by hand. :func:`mismatches` compares that table with the ``replaced`` entries of
``routes.toml``; the test suite requires it to be empty and the app refuses to start
otherwise (:meth:`RoutePolicy.serving` rejects handler ids the policy does not know).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute

from extensions.errors import ConfigurationError

__all__ = ["HANDLER_KEY", "HandlerTable", "handler_table", "mismatches", "serves"]

HANDLER_KEY = "x-atrium-handler"
_CONVERTOR = re.compile(r"{([^}:]+):[^}]+}")

HandlerTable = dict[str, frozenset[str]]  # handler id -> "METHOD /template" routes it implements


def serves(handler: str) -> dict[str, Any]:
    """The ``openapi_extra`` of a route implementing ``handler``."""
    return {HANDLER_KEY: handler}


def _route_key(method: str, template: str) -> str:
    # routes.toml names LiteLLM's templates; a replacement may widen a parameter's convertor
    # (``{name:path}``) to accept what LiteLLM's router would hand it.
    return method + " " + _CONVERTOR.sub(r"{\1}", template)


def handler_table(routers: Iterable[APIRouter]) -> HandlerTable:
    table: dict[str, set[str]] = {}
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            handler = (route.openapi_extra or {}).get(HANDLER_KEY)
            if not isinstance(handler, str):
                raise ConfigurationError(
                    f"replacement route {route.path} names no handler", hint="add openapi_extra=serves(<handler id>)"
                )
            table.setdefault(handler, set()).update(
                _route_key(m, route.path) for m in (route.methods or set()) - {"HEAD"}
            )
    return {handler: frozenset(routes) for handler, routes in table.items()}


def mismatches(table: HandlerTable, replaced: Mapping[str, Iterable[str]]) -> list[str]:
    """Differences between served handlers and the policy's ``replaced`` entries, both ways."""
    problems: list[str] = []
    for handler, served in sorted(table.items()):
        expected = {_route_key(*route.split(" ", 1)) for route in replaced.get(handler, ())}
        if not expected:
            problems.append(f"handler {handler!r} is not a replaced handler of the route policy")
            continue
        problems += [f"{handler}: {route} is replaced but has no route" for route in sorted(expected - served)]
        problems += [f"{handler}: {route} is served but not classified replaced" for route in sorted(served - expected)]
    return problems
