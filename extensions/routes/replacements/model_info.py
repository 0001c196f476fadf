"""The account's view of the model listings: its own models and the global ones it may use.

``/model/info``, ``/v2/model/info`` and ``/model_group/info`` are read from LiteLLM as the
system and filtered here (LiteLLM's ``/v2/model/info`` would list every account's
deployments to any key). ``/v1/models`` is read with the caller's own key, so LiteLLM's
key and team restrictions (model lists, ``all-team-models``, ``all-proxy-models``, access
groups, wildcards) and its key aliases apply, then filtered and renamed the same way.

``/model/info`` and ``/model_group/info`` show LiteLLM a key's limits too, but LiteLLM
matches them against router group names, and an account's group is ``<account>/<name>``
while its keys name ``<name>``: read with the caller's key, a limited key would lose its
own account's models. So the system read is cut to the names the caller's own
``/v1/models`` lists, which is LiteLLM's decision of what the key may call.
``/v2/model/info`` is not cut: LiteLLM 1.108.7 does not apply key limits there either
(``model_info_v2`` lists the router's deployments to any caller).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from extensions.errors import NotFound
from extensions.models import catalog, store
from extensions.models.naming import owner_of
from extensions.models.presentation import present_deployment
from extensions.routes.delegate import LiteLLMAnswer, call_litellm
from extensions.routes.deps import AnyTenant
from extensions.routes.replacements.handlers import serves
from extensions.tenancy.request.context import Principal

__all__ = ["get_model_info_router"]

_ALL_PAGES = "100000"


async def _deployments(ctx: Principal, body: Any) -> list[dict[str, Any]]:
    rows = body.get("data") if isinstance(body, dict) else None
    teams = await store.account_team_ids(ctx.account_id)
    shown = (present_deployment(ctx.account_id, row, teams) for row in rows or [] if isinstance(row, dict))
    return [row for row in shown if row is not None]


async def _system_query(ctx: Principal, request: Request) -> dict[str, str] | None:
    """The caller's query for a listing read as the system; None when it names another account's team.

    LiteLLM filters by ``teamId`` with the system's view of every team, so a foreign team id would
    tell which models that team may use.
    """
    query = dict(request.query_params)
    team = query.get("teamId") or query.get("team_id")
    if team and team not in await store.account_team_ids(ctx.account_id):
        return None
    return query


def _listed_models(ctx: Principal, body: Any, aliases: dict[str, str]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    shown: list[dict[str, Any]] = []
    for row in body.get("data") or [] if isinstance(body, dict) else []:
        listed = str(row.get("id"))
        name = catalog.visible_name(ctx.account_id, listed)
        if name is None and _is_own_alias(ctx, listed, aliases):
            name = listed  # LiteLLM lists a key alias whose target it lists; it routes to that target
        if name is not None and name not in seen:
            seen.add(name)
            shown.append({**row, "id": name})
    return shown


def _is_own_alias(ctx: Principal, listed: str, aliases: dict[str, str]) -> bool:
    target = aliases.get(listed)
    # The alias name is the key's own label, but never another account's internal name, and its
    # target must be a model of this account's view (LiteLLM checked it against the whole proxy).
    return (
        target is not None
        and owner_of({"model_name": listed}) in (None, ctx.account_id)
        and catalog.resolve(ctx.account_id, target) is not None
    )


async def _key_listing(
    request: Request, ctx: Principal, query: dict[str, str] | None = None
) -> tuple[LiteLLMAnswer, list[dict[str, Any]]]:
    """LiteLLM's ``/v1/models`` for the caller's own credentials, in the account's names."""
    answer = await call_litellm(request, "GET", "/v1/models", query=query, as_system=False)
    if not answer.ok:
        return answer, []
    return answer, _listed_models(ctx, answer.json(), await store.key_aliases(ctx.token_hash))


async def _callable_names(request: Request, ctx: Principal) -> LiteLLMAnswer | frozenset[str]:
    """The public names the caller's key may call; LiteLLM's failed answer when it refused the key."""
    answer, rows = await _key_listing(request, ctx)
    return frozenset(str(row["id"]) for row in rows) if answer.ok else answer


def get_model_info_router() -> APIRouter:
    router = APIRouter()

    @router.get("/model/info", openapi_extra=serves("model_info"))
    @router.get("/v1/model/info", openapi_extra=serves("model_info"))
    async def model_info(request: Request, ctx: AnyTenant) -> Response:
        query = await _system_query(ctx, request)
        if query is None:
            return JSONResponse({"data": []})
        allowed = await _callable_names(request, ctx)
        if isinstance(allowed, LiteLLMAnswer):
            return allowed.relay()
        answer = await call_litellm(request, "GET", "/model/info", query=query, as_system=True)
        if not answer.ok:
            return answer.relay()
        rows = await _deployments(ctx, answer.json())
        return answer.relay({"data": [row for row in rows if row.get("model_name") in allowed]})

    @router.get("/v2/model/info", openapi_extra=serves("model_info"))
    async def model_info_v2(request: Request, ctx: AnyTenant, page: int = 1, size: int = 50) -> Response:
        page, size = max(page, 1), max(size, 1)
        query = await _system_query(ctx, request)
        if query is None:
            return JSONResponse({"data": [], "total_count": 0, "current_page": page, "total_pages": 0, "size": size})
        query = {k: v for k, v in query.items() if k not in ("page", "size")}
        answer = await call_litellm(
            request, "GET", "/v2/model/info", query={**query, "page": "1", "size": _ALL_PAGES}, as_system=True
        )
        if not answer.ok:
            return answer.relay()
        rows = await _deployments(ctx, answer.json())
        return answer.relay(
            {
                "data": rows[(page - 1) * size : page * size],
                "total_count": len(rows),
                "current_page": page,
                "total_pages": math.ceil(len(rows) / size) if rows else 0,
                "size": size,
            }
        )

    @router.get("/model_group/info", openapi_extra=serves("model_info"))
    async def model_group_info(request: Request, ctx: AnyTenant) -> Response:
        query = dict(request.query_params)
        if query.get("model_group"):
            resolved = catalog.resolve(ctx.account_id, query["model_group"])
            if resolved is None:
                return JSONResponse({"data": []})
            query["model_group"] = resolved
        allowed = await _callable_names(request, ctx)
        if isinstance(allowed, LiteLLMAnswer):
            return allowed.relay()
        answer = await call_litellm(request, "GET", "/model_group/info", query=query, as_system=True)
        if not answer.ok:
            return answer.relay()
        body = answer.json()
        groups: list[dict[str, Any]] = []
        for row in body.get("data") or [] if isinstance(body, dict) else []:
            name = catalog.visible_name(ctx.account_id, str(row.get("model_group")))
            if name is not None and name in allowed:
                groups.append({**row, "model_group": name})
        return answer.relay({**body, "data": groups})

    @router.get("/models", openapi_extra=serves("model_list"))
    @router.get("/v1/models", openapi_extra=serves("model_list"))
    @router.get("/cursor/models", openapi_extra=serves("model_list"))
    @router.get("/cursor/v1/models", openapi_extra=serves("model_list"))
    async def models(request: Request, ctx: AnyTenant) -> Response:
        answer, rows = await _key_listing(request, ctx, dict(request.query_params))
        if not answer.ok:
            return answer.relay()
        body = answer.json()
        return answer.relay({**(body if isinstance(body, dict) else {}), "data": rows})

    @router.get("/models/{model_id:path}", openapi_extra=serves("model_list"))
    @router.get("/v1/models/{model_id:path}", openapi_extra=serves("model_list"))
    async def one_model(model_id: str, request: Request, ctx: AnyTenant) -> Response:
        answer, rows = await _key_listing(request, ctx)
        if answer.ok:
            for row in rows:
                if row["id"] == model_id:
                    return answer.relay(row)
        raise NotFound(
            f"The model `{model_id}` does not exist or you do not have access to it.",
            hint="list the models your key can use with GET /v1/models",
        )

    return router
