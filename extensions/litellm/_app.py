"""LiteLLM's app: the FastAPI app and its routes, the Prisma client, callbacks and error bodies."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from extensions.litellm._base import Internal, proxy_server

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "INTERNALS",
    "RouteInfo",
    "custom_logger_class",
    "is_proxy_exception",
    "iter_routes",
    "prisma_client",
    "proxy_app",
    "proxy_error_body",
    "proxy_exception",
    "proxy_exception_body",
    "request_models",
    "route_dependants",
    "wrap_prisma_db",
]

# The request bodies (pydantic models) of LiteLLM's management routes open to tenants that
# carry ids; `extensions.tenancy.policy.references` classifies every id-like field of them.
_REQUEST_MODELS: tuple[tuple[str, str], ...] = (
    *(
        ("litellm.proxy._types", name)
        for name in (
            "BlockKeyRequest",
            "BlockTeamRequest",
            "BudgetDeleteRequest",
            "BudgetNewRequest",
            "BudgetRequest",
            "ChangePasswordRequest",
            "DeleteTeamRequest",
            "DeleteUserRequest",
            "InvitationClaim",
            "InvitationDelete",
            "InvitationUpdate",
            "KeyRequest",
            "NewTeamRequest",
            "PatchTeamRequest",
            "ResetSpendRequest",
            "TeamMemberAddRequest",
            "TeamMemberDeleteRequest",
            "TeamMemberUpdateRequest",
            "TeamModelAddRequest",
            "TeamModelDeleteRequest",
            "UpdateTeamRequest",
        )
    ),
    ("litellm.types.integrations.slack_alerting", "InvitationNew"),
    ("litellm.types.tag_management", "TagInfoRequest"),
    ("litellm.types.proxy.management_endpoints.key_requests", "GenerateKeyRequest"),
    ("litellm.types.proxy.management_endpoints.key_requests", "UpdateKeyRequest"),
    ("litellm.types.proxy.management_endpoints.key_requests", "RegenerateKeyRequest"),
    ("litellm.types.proxy.management_endpoints.key_management_endpoints", "BulkUpdateKeyRequest"),
    ("litellm.types.proxy.management_endpoints.key_management_endpoints", "BulkUpdateTeamKeysRequest"),
    ("litellm.types.proxy.management_endpoints.user_requests", "NewUserRequest"),
    ("litellm.types.proxy.management_endpoints.user_requests", "UpdateUserRequest"),
    ("litellm.types.proxy.management_endpoints.internal_user_endpoints", "BulkNewUserRequest"),
    ("litellm.types.proxy.management_endpoints.internal_user_endpoints", "BulkUpdateUserRequest"),
    ("litellm.types.proxy.management_endpoints.internal_user_endpoints", "BulkDeleteUserRequest"),
    ("litellm.types.proxy.management_endpoints.team_endpoints", "BulkTeamMemberAddRequest"),
    ("litellm.types.proxy.management_endpoints.team_endpoints", "BulkTeamMemberDeleteRequest"),
    ("litellm.types.proxy.management_endpoints.team_endpoints", "BulkTeamMemberBudgetUpdateRequest"),
    ("litellm.types.proxy.management_endpoints.team_endpoints", "UpdateTeamMemberPermissionsRequest"),
    ("litellm.types.proxy.management_endpoints.team_endpoints", "BulkUpdateTeamMemberPermissionsRequest"),
)

INTERNALS: tuple[Internal, ...] = (
    Internal("litellm.proxy.proxy_server", "app"),
    Internal("litellm.proxy.proxy_server", "prisma_client"),
    Internal("litellm.proxy.proxy_server", "proxy_startup_event", ("app",)),
    Internal("litellm.proxy.utils", "PrismaClient"),
    Internal("litellm.proxy._lazy_features", "register_all_features", ("app", "features")),
    Internal("fastapi.routing", "iter_route_contexts", ("routes",)),
    Internal(
        "litellm.integrations.custom_logger",
        "CustomLogger.async_pre_call_hook",
        ("self", "user_api_key_dict", "cache", "data", "call_type"),
    ),
    Internal(
        "litellm.integrations.custom_logger",
        "CustomLogger.async_log_success_event",
        ("self", "kwargs", "response_obj", "start_time", "end_time"),
    ),
    Internal(
        "litellm.integrations.custom_logger",
        "CustomLogger.async_post_call_success_hook",
        ("self", "data", "user_api_key_dict", "response"),
    ),
    Internal(
        "litellm.proxy._types",
        "ProxyException.__init__",
        ("self", "message", "type", "param", "code", "headers", "openai_code", "provider_specific_fields"),
    ),
    Internal("litellm.proxy._types", "ProxyException.to_dict", ("self",)),
    # Id references (extensions/tenancy/policy/references.py): the body models whose id fields it classifies.
    *(Internal(module, name) for module, name in _REQUEST_MODELS),
)


def proxy_app() -> FastAPI:
    """LiteLLM's FastAPI app (importing it builds LiteLLM's routes)."""
    app: FastAPI = proxy_server().app
    return app


def prisma_client() -> Any | None:
    """LiteLLM's ``PrismaClient`` once its lifespan has connected, else None.

    Read at call time: LiteLLM assigns the module global during start-up.
    """
    return proxy_server().prisma_client


def wrap_prisma_db(wrap: Callable[[Any], Any]) -> bool:
    """Replace ``prisma_client.db`` by ``wrap(db)``.

    Background jobs hold their own reference to the ``PrismaClient`` object, not to
    ``.db``, so swapping the attribute reaches them too. Returns False when LiteLLM runs
    without a database.
    """
    client = prisma_client()
    if client is None:
        return False
    client.db = wrap(client.db)
    return True


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    name: str
    kind: str  # "http", "websocket" or "mount"


def iter_routes(app: Any, *, include_lazy: bool = False) -> list[RouteInfo]:
    """Every route of ``app``, flattened through FastAPI's included routers.

    ``include_lazy`` first registers LiteLLM's lazily loaded feature routers, as
    ``LITELLM_DISABLE_LAZY_ROUTES`` does at start-up, so the table is complete.
    """
    from fastapi import routing
    from starlette.routing import Mount, WebSocketRoute

    if include_lazy:
        importlib.import_module("litellm.proxy._lazy_features").register_all_features(app)
    found: list[RouteInfo] = []
    for ctx in routing.iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, Mount):
            kind = "mount"
        elif isinstance(route, WebSocketRoute) or type(route).__name__ == "APIWebSocketRoute":
            kind = "websocket"
        else:
            kind = "http"
        found.append(RouteInfo(str(ctx.path), frozenset(ctx.methods or ()), str(ctx.name or ""), kind))
    return found


def route_dependants(app: Any, *, include_lazy: bool = False) -> list[tuple[RouteInfo, Any]]:
    """Each HTTP route of ``app`` with its FastAPI dependant (path, query and body parameters)."""
    from fastapi import routing

    if include_lazy:
        importlib.import_module("litellm.proxy._lazy_features").register_all_features(app)
    found: list[tuple[RouteInfo, Any]] = []
    for ctx in routing.iter_route_contexts(app.routes):
        dependant = getattr(ctx.original_route, "dependant", None)
        if dependant is not None and ctx.methods:
            found.append((RouteInfo(str(ctx.path), frozenset(ctx.methods), str(ctx.name or ""), "http"), dependant))
    return found


def request_models() -> dict[str, type[Any]]:
    """LiteLLM's request models of the id-taking management routes, by class name."""
    return {name: getattr(importlib.import_module(module), name) for module, name in _REQUEST_MODELS}


def custom_logger_class() -> type:
    cls: type = importlib.import_module("litellm.integrations.custom_logger").CustomLogger
    return cls


def proxy_exception(message: str, *, status: int, error_type: str, param: str | None, code: str) -> Exception:
    """An error LiteLLM's endpoints pass to the client as is: OpenAI's error shape and status."""
    cls = importlib.import_module("litellm.proxy._types").ProxyException
    error: Exception = cls(message=message, type=error_type, param=param, code=status, openai_code=code)
    return error


def is_proxy_exception(error: BaseException) -> bool:
    return isinstance(error, importlib.import_module("litellm.proxy._types").ProxyException)


def proxy_exception_body(error: Exception) -> tuple[int, dict[str, Any]]:
    """Status and body LiteLLM's endpoints answer a ``ProxyException`` with ({"error": {...}})."""
    body: dict[str, Any] = error.to_dict()  # type: ignore[attr-defined]
    return int(getattr(error, "code", 500)), {"error": body}


def proxy_error_body(message: str, *, status: int, error_type: str, param: str | None) -> dict[str, Any]:
    """The JSON body LiteLLM's exception handler sends for a ``ProxyException`` (``{"error": {...}}``)."""
    error = proxy_exception(message, status=status, error_type=error_type, param=param, code=str(status))
    return {"error": error.to_dict()}  # type: ignore[attr-defined]
