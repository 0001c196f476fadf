"""Lists of LiteLLM's process-wide registries, cut to the caller's account.

Guardrails, policies, prompts, agents, MCP servers and toolsets, and vector stores live in
registries each worker holds in memory for the whole proxy (every account's entries, and the
operator's config entries). LiteLLM's list handlers read them, so Atrium reads LiteLLM's own
answer and keeps only the entries whose database row is the caller's account's: the body is
LiteLLM's (envelope, item shape, masking), its counts recomputed over what is kept.

Who reads: for the roles LiteLLM gives its admin view, LiteLLM's handler runs as the system (its
admin view over everything, then cut); anyone else's request runs with the caller's own key, so
LiteLLM's non-admin rules (team guardrails, key grants, redaction, feature switches) apply before
the cut. Config entries and the rows of other accounts are never shown, nor an entry keyed by a
name another account's row also holds (prompts and the policy summary are keyed by name).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from extensions.routes.delegate import LiteLLMAnswer, call_litellm
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.scope import admin_view, foreign_values, own_values
from extensions.tenancy.request.context import Principal

__all__ = ["get_registries_router"]


@dataclass(frozen=True)
class _Rows:
    """Where an account's entries of one registry are recorded, and the key LiteLLM lists them by."""

    table: str
    column: str
    unique: bool = True  # the column is a primary key: no other account can hold the same value


GUARDRAILS = _Rows("LiteLLM_GuardrailsTable", "guardrail_id")
POLICIES = _Rows("LiteLLM_PolicyTable", "policy_id")
POLICY_NAMES = _Rows("LiteLLM_PolicyTable", "policy_name", unique=False)
PROMPTS = _Rows("LiteLLM_PromptTable", "prompt_id", unique=False)
AGENTS = _Rows("LiteLLM_AgentsTable", "agent_id")
MCP_SERVERS = _Rows("LiteLLM_MCPServerTable", "server_id")
TOOLSETS = _Rows("LiteLLM_MCPToolsetTable", "toolset_id")
VECTOR_STORES = _Rows("LiteLLM_ManagedVectorStoresTable", "vector_store_id")


async def _kept(ctx: Principal, rows: _Rows) -> set[str]:
    own = await own_values(rows.table, rows.column, ctx)
    return own if rows.unique else own - await foreign_values(rows.table, rows.column, ctx, own)


async def _read(request: Request, ctx: Principal, path: str, *, viewer_is_admin: bool = True) -> LiteLLMAnswer:
    as_system = admin_view(ctx, viewer=viewer_is_admin)
    return await call_litellm(request, "GET", path, query=dict(request.query_params), as_system=as_system)


def _cut(items: Any, key: str, kept: set[str]) -> list[Any]:
    return [i for i in items if isinstance(i, dict) and i.get(key) in kept] if isinstance(items, list) else []


Shape = Callable[[Any, set[str], Request], Any]


def _fields(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


def _in_field(field: str, key: str, *, count: str | None = None) -> Shape:
    """``{field: [items]}`` (and ``count``: their number), items identified by ``key``."""

    def shape(body: Any, kept: set[str], request: Request) -> Any:
        items = _cut(_fields(body).get(field), key, kept)
        return {**_fields(body), field: items, **({count: len(items)} if count else {})}

    return shape


def _bare_list(key: str) -> Shape:
    def shape(body: Any, kept: set[str], request: Request) -> Any:
        return _cut(body, key, kept)

    return shape


def _policy_summary(body: Any, kept: set[str], request: Request) -> Any:
    listed = _fields(body).get("policies")
    policies = {name: summary for name, summary in _fields(listed).items() if name in kept}
    return {**_fields(body), "policies": policies, "total_count": len(policies)}


def _vector_stores(body: Any, kept: set[str], request: Request) -> Any:
    items = _cut(_fields(body).get("data"), "vector_store_id", kept)
    try:
        page_size = max(int(request.query_params.get("page_size", 100)), 1)
    except ValueError:
        page_size = 100  # LiteLLM refused it already
    shown = {**_fields(body), "data": items, "total_count": len(items)}
    return {**shown, "total_pages": math.ceil(len(items) / page_size)}


async def _serve(
    request: Request, ctx: Principal, path: str, rows: _Rows, shape: Shape, *, viewer_is_admin: bool = True
) -> Response:
    answer = await _read(request, ctx, path, viewer_is_admin=viewer_is_admin)
    if not answer.ok:
        return answer.relay()  # LiteLLM's own refusal (validation, feature switched off for the role)
    return answer.relay(shape(answer.json(), await _kept(ctx, rows), request))


def get_registries_router() -> APIRouter:
    router = APIRouter()

    @router.get("/guardrails/list", openapi_extra=serves("guardrails_list"))
    @router.get("/v2/guardrails/list", openapi_extra=serves("guardrails_list"))
    async def guardrails(request: Request, ctx: AnyTenant) -> Response:
        return await _serve(request, ctx, request.url.path, GUARDRAILS, _in_field("guardrails", "guardrail_id"))

    @router.get("/policies/list", openapi_extra=serves("policies_list"))
    async def policies(request: Request, ctx: AnyTenant) -> Response:
        shape = _in_field("policies", "policy_id", count="total_count")
        return await _serve(request, ctx, "/policies/list", POLICIES, shape)

    @router.get("/policy/list", openapi_extra=serves("policies_list"))
    async def policy_summary(request: Request, ctx: AnyTenant) -> Response:
        return await _serve(request, ctx, "/policy/list", POLICY_NAMES, _policy_summary)

    @router.get("/prompts/list", openapi_extra=serves("prompts_list"))
    async def prompts(request: Request, ctx: AnyTenant) -> Response:
        return await _serve(request, ctx, "/prompts/list", PROMPTS, _in_field("prompts", "prompt_id"))

    @router.get("/v1/agents", openapi_extra=serves("agents_list"))
    async def agents(request: Request, ctx: AnyTenant) -> Response:
        # LiteLLM's agent list treats only the proxy-admin role as admin (redaction, grants).
        return await _serve(request, ctx, "/v1/agents", AGENTS, _bare_list("agent_id"), viewer_is_admin=False)

    @router.get("/v1/mcp/server", openapi_extra=serves("mcp_servers_list"))
    async def mcp_servers(request: Request, ctx: AnyTenant) -> Response:
        return await _serve(request, ctx, "/v1/mcp/server", MCP_SERVERS, _bare_list("server_id"))

    @router.get("/v1/mcp/toolset", openapi_extra=serves("mcp_servers_list"))
    async def mcp_toolsets(request: Request, ctx: AnyTenant) -> Response:
        return await _serve(request, ctx, "/v1/mcp/toolset", TOOLSETS, _bare_list("toolset_id"))

    @router.get("/vector_store/list", openapi_extra=serves("vector_stores_list"))
    @router.get("/v1/vector_store/list", openapi_extra=serves("vector_stores_list"))
    async def vector_stores(request: Request, ctx: AnyTenant) -> Response:
        return await _serve(request, ctx, request.url.path, VECTOR_STORES, _vector_stores)

    return router
