"""The Home and Usage pages' daily-activity routes, over the caller's account only.

Same routes, parameters, bounds and response shapes as LiteLLM 1.108.7's factory
(``daily_activity_routes.py``) for the user, team, tag and customer entities (``/end_user/*`` are
the customer routes' aliases), plus the paginated ``GET /team/daily/activity``. Each view is the one
statement LiteLLM runs for it (:mod:`.sql`), with the account first in every WHERE; access rules are
in :mod:`.access`; model names and end-user ids come out in the account's public form.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations when they are
# registered, and `Depends(query_of)` names a closure variable that a postponed (string) annotation
# would look up in the module's globals, making `query` a required query parameter.
import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from extensions import litellm
from extensions.models import naming
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.usage import access, fold, lookups, sql
from extensions.routes.replacements.usage.errors import LiteLLMFormRoute
from extensions.routes.replacements.usage.export import register_export
from extensions.routes.replacements.usage.scope import ENTITIES, TEAM, USER, Entity, Scope
from extensions.routes.replacements.usage.scope import Query as EntityQuery
from extensions.tenancy.request.context import current_principal

__all__ = ["QUERIES", "get_daily_activity_router", "public"]

_KEY_METRICS = (
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "api_requests",
    "successful_requests",
    "failed_requests",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
_USER_METRICS = _KEY_METRICS[:7]
_OFFSET_MAX = 1_000_000_000  # LiteLLM has no bound; past int64 asyncpg would fail (a 500)
_TIMEZONE = Query(default=None, ge=-1440, le=1440)  # minutes; beyond a day the date arithmetic overflows
_PAGE_SIZE_MAX = 1000


def public(account_id: str | None, body: Any) -> Response:
    """The answer with the account's internal names (``<account_id>/``: its models, its end users)
    in their public form, as the account's clients name them."""
    text = json.dumps(body)
    if account_id is not None:
        text = text.replace(f"{account_id}/", "")
    return Response(content=text, media_type="application/json")


async def _fetch(statement: sql.Statement) -> list[Any]:
    return list(await lookups.pool().fetch(statement.sql, *statement.params))


def _split(value: str | None) -> tuple[str, ...] | None:
    return tuple(value.split(",")) if value else None


def _user_query(
    start_date: str | None = None,
    end_date: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    user_id: str | None = None,
    timezone: int | None = _TIMEZONE,
    include_current_utc_day: bool = False,
) -> EntityQuery:
    ids = (user_id,) if user_id is not None else None
    return EntityQuery(ids, (), api_key, start_date, end_date, model, timezone, include_current_utc_day)


def _team_query(
    team_ids: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    exclude_team_ids: str | None = None,
    timezone: int | None = _TIMEZONE,
) -> EntityQuery:
    return EntityQuery(_split(team_ids), _split(exclude_team_ids) or (), api_key, start_date, end_date, model, timezone)


def _tag_query(
    start_date: str | None = None,
    end_date: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    tags: str | None = None,
    timezone: int | None = _TIMEZONE,
) -> EntityQuery:
    return EntityQuery(_split(tags), (), api_key, start_date, end_date, model, timezone)


def _customer_query(
    end_user_ids: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    exclude_end_user_ids: str | None = None,
    timezone: int | None = _TIMEZONE,
) -> EntityQuery:
    excluded = _split(exclude_end_user_ids) or ()
    return EntityQuery(_split(end_user_ids), excluded, api_key, start_date, end_date, model, timezone)


# The entity's query parameters, as LiteLLM's _user_query / _team_query / _tag_query / _customer_query.
QUERIES: dict[str, Callable[..., EntityQuery]] = {
    "user": _user_query,
    "team": _team_query,
    "tag": _tag_query,
    "customer": _customer_query,
}


async def _entity_metadata(scope: Scope, entity_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Labels of the entities present (LiteLLM loads them for the requested ones; the answer only
    carries present ones): user email/alias, team alias, customer alias."""
    ids = {i for i in entity_ids if i}
    account = scope.account_id
    if scope.entity is USER:
        labels = await lookups.user_labels(account, ids)
        return {uid: {"user_email": email, "user_alias": alias} for uid, (email, alias) in labels.items()}
    if scope.entity is TEAM:
        return await lookups.team_aliases(account, ids)
    if scope.entity.namespaced:
        return await lookups.end_user_aliases(account, ids)
    return {}


async def aggregated_body(scope: Scope, *, api_key_limit: int, entities: bool) -> dict[str, Any]:
    """LiteLLM's ``get_daily_activity_aggregated``: both statements at once, then labels."""
    grouping = _fetch(sql.aggregated(scope, api_key_limit=api_key_limit))
    if entities:
        rows, entity_rows = await asyncio.gather(
            grouping, _fetch(sql.entity_rollup(scope, api_key_limit=api_key_limit))
        )
    else:
        rows, entity_rows = await grouping, []
    keys = {r["api_key"] for r in [*rows, *entity_rows] if r["api_key"]} - {litellm.PTU_SENTINEL_API_KEY}
    labels = await lookups.key_metadata(scope.account_id, keys)
    days, totals = fold.fold_grouping_sets(rows, labels)
    if entity_rows:
        metadata = await _entity_metadata(scope, (r["entity_id"] for r in entity_rows))
        fold.fold_entities(days, entity_rows, labels, metadata)
    distinct = next((r["distinct_api_keys"] for r in rows if r["distinct_api_keys"] is not None), 0)
    per_entity = (
        {
            (r["entity_id"] or "Unassigned"): r["distinct_api_keys"]
            for r in entity_rows
            if r["api_key_rolled"] and r["distinct_api_keys"] is not None
        }
        if entities
        else None
    )
    meta = fold.metadata_of(
        totals, api_key_limit=api_key_limit, total_api_keys=distinct, entity_total_api_keys=per_entity
    )
    return {"results": days, "metadata": meta}


def _key_row(row: Mapping[str, Any], labels: fold.Labels) -> dict[str, Any]:
    metrics = {name: float(row[name]) if name == "spend" else int(row[name]) for name in _KEY_METRICS}
    return {
        "api_key": row["api_key"],
        "metrics": metrics,
        "metadata": fold.key_label(labels, row["api_key"], missing_exists=None),
    }


async def _key_rows(scope: Scope, rows: list[Any]) -> list[dict[str, Any]]:
    labels = await lookups.key_metadata(scope.account_id, (r["api_key"] for r in rows))
    return [_key_row(row, labels) for row in rows]


def _sum_key(keys: Iterable[str], days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """LiteLLM's ``_search_rows``: each key's metrics summed over the days, its first day's labels."""
    found = []
    for key in keys:
        entries = [d["breakdown"]["api_keys"][key] for d in days if key in d["breakdown"]["api_keys"]]
        if not entries:
            continue
        metrics = {name: sum(e["metrics"][name] for e in entries) for name in fold.METRICS}
        metrics["ptu_hours"] = 0.0
        found.append({"api_key": key, "metrics": metrics, "metadata": entries[0]["metadata"]})
    return found


def get_daily_activity_router() -> APIRouter:
    router = APIRouter(route_class=LiteLLMFormRoute)
    for entity in ENTITIES:
        for prefix in entity.prefixes:
            _register(router, entity, prefix)
            register_export(router, entity, prefix, QUERIES[entity.name])
    _register_team_pages(router)
    return router


Resolved = Callable[..., Awaitable[Scope]]


def _register(router: APIRouter, entity: Entity, prefix: str) -> None:
    extra = serves(entity.handler)
    base = f"{prefix}/daily/activity/aggregated"
    query_of = QUERIES[entity.name]

    async def scope_of(query: EntityQuery, *, aggregated: bool = False) -> Scope:
        # The user route's aggregated view takes any range; every other view at most 400 days.
        capped = not (aggregated and entity is USER)
        return await access.resolve(entity, query, current_principal(), capped=capped)

    async def aggregated(
        query: Annotated[EntityQuery, Depends(query_of)],
        api_key_limit: Annotated[int, Query(ge=1, le=litellm.USAGE_TOP_API_KEYS_MAX)] = (
            litellm.USAGE_TOP_API_KEYS_DEFAULT
        ),
    ) -> Response:
        scope = await scope_of(query, aggregated=True)
        return public(scope.account_id, await aggregated_body(scope, api_key_limit=api_key_limit, entities=True))

    async def key_page(
        query: Annotated[EntityQuery, Depends(query_of)],
        offset: Annotated[int, Query(ge=0, le=_OFFSET_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=litellm.USAGE_KEY_PAGE_MAX)] = litellm.USAGE_KEY_PAGE_DEFAULT,
    ) -> Response:
        scope = await scope_of(query)
        rows = await _fetch(sql.key_page(scope, offset=offset, limit=limit))
        total = rows[0]["total_api_keys"] if rows else 0
        keys = await _key_rows(scope, [r for r in rows if r["api_key"] is not None])
        body = {"api_keys": keys, "total_api_keys": total or 0, "offset": offset, "limit": limit}
        return public(scope.account_id, body)

    async def search(
        query: Annotated[EntityQuery, Depends(query_of)],
        search: Annotated[str, Query(min_length=1)],
        limit: Annotated[int, Query(ge=1, le=litellm.USAGE_KEY_SEARCH_MAX)] = litellm.USAGE_KEY_SEARCH_DEFAULT,
    ) -> Response:
        scope = await scope_of(query)
        keys = [r["api_key"] for r in await _fetch(sql.key_search(scope, search=search, limit=limit))]
        if not keys:
            return public(scope.account_id, {"api_keys": []})
        narrowed = replace(scope, api_keys=tuple(keys))
        body = await aggregated_body(narrowed, api_key_limit=litellm.USAGE_TOP_API_KEYS_DEFAULT, entities=False)
        return public(scope.account_id, {"api_keys": _sum_key(keys, body["results"])})

    async def model_top_keys(
        query: Annotated[EntityQuery, Depends(query_of)],
        model_group: Annotated[str, Query(min_length=1)],
        by_model_group: bool = True,
        limit: Annotated[int, Query(ge=1, le=litellm.USAGE_MODEL_TOP_KEYS_MAX)] = (
            litellm.USAGE_MODEL_TOP_KEYS_DEFAULT
        ),
    ) -> Response:
        scope = await scope_of(query)
        if naming.account_of_name(model_group) not in (None, scope.account_id):
            raise access.refused(404, "model not found")  # another account's internal name, never echoed
        statement = sql.model_top_keys(scope, model_group=model_group, by_model_group=by_model_group, limit=limit)
        keys = await _key_rows(scope, await _fetch(statement))
        body = {"model": model_group, "by_model_group": by_model_group, "api_keys": keys}
        return public(scope.account_id, body)

    for suffix, endpoint in (("", aggregated), ("/keys", key_page), ("/search", search)):
        router.add_api_route(base + suffix, endpoint, methods=["GET"], openapi_extra=extra)
    router.add_api_route(f"{base}/model_top_keys", model_top_keys, methods=["GET"], openapi_extra=extra)
    if entity is USER:
        _register_user_views(router, base, query_of, scope_of)


def _register_user_views(
    router: APIRouter, base: str, query_of: Callable[..., EntityQuery], scope_of: Resolved
) -> None:
    extra = serves(USER.handler)

    async def user_page(
        query: Annotated[EntityQuery, Depends(query_of)],
        offset: Annotated[int, Query(ge=0, le=_OFFSET_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=litellm.USAGE_USER_PAGE_MAX)] = litellm.USAGE_USER_PAGE_DEFAULT,
    ) -> Response:
        scope = await scope_of(query)
        rows = await _fetch(sql.user_page(scope, offset=offset, limit=limit))
        total = rows[0]["total_users"] if rows else 0
        present = [r for r in rows if r["spend"] is not None]
        labels = await lookups.user_labels(scope.account_id, (r["user_id"] for r in present if r["user_id"]))
        users = []
        for row in present:
            email, alias = labels.get(row["user_id"] or "", (None, None))
            metrics = {name: float(row[name]) if name == "spend" else int(row[name]) for name in _USER_METRICS}
            users.append({"user_id": row["user_id"] or None, "user_email": email, "user_alias": alias, **metrics})
        body = {"users": users, "total_users": total or 0, "offset": offset, "limit": limit}
        return public(scope.account_id, body)

    async def cache_leakage_keys(
        query: Annotated[EntityQuery, Depends(query_of)],
        limit: Annotated[int, Query(ge=1, le=litellm.USAGE_CACHE_LEAKAGE_KEYS_MAX)] = (
            litellm.USAGE_CACHE_LEAKAGE_KEYS_DEFAULT
        ),
    ) -> Response:
        scope = await scope_of(query)
        keys = await _key_rows(scope, await _fetch(sql.cache_leakage_keys(scope, limit=limit)))
        return public(scope.account_id, {"api_keys": keys})

    router.add_api_route(f"{base}/users", user_page, methods=["GET"], openapi_extra=extra)
    router.add_api_route(f"{base}/cache_leakage_keys", cache_leakage_keys, methods=["GET"], openapi_extra=extra)


def _register_team_pages(router: APIRouter) -> None:
    """``GET /team/daily/activity``: LiteLLM's paginated rows (``get_daily_activity``)."""

    async def team_daily_activity(
        team_ids: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        page: int = 1,
        page_size: int = 10,
        exclude_team_ids: str | None = None,
    ) -> Response:
        query = EntityQuery(
            _split(team_ids), _split(exclude_team_ids) or (), api_key, start_date, end_date, model, None
        )
        scope = await access.resolve(TEAM, query, current_principal(), capped=False)
        if page < 1 or page_size < 1:
            # LiteLLM's detail here is the bare string, not its usual {"error": ...}.
            detail = f"page and page_size must be >= 1, got page={page}, page_size={page_size}"
            raise HTTPException(status_code=400, detail=detail)
        if page_size > _PAGE_SIZE_MAX or page > _OFFSET_MAX:
            raise access.refused(400, f"page_size must be at most {_PAGE_SIZE_MAX} and page at most {_OFFSET_MAX}")
        fetched = await _fetch(sql.daily_rows(scope, page=page, page_size=page_size))
        total = fetched[0]["total_count"] if fetched else 0
        rows = [json.loads(r["row"]) for r in fetched if r["row"] is not None]
        keys = {r["api_key"] for r in rows} - {litellm.PTU_SENTINEL_API_KEY}
        labels = await lookups.key_metadata(scope.account_id, keys)
        metadata = await _entity_metadata(scope, (r.get("team_id") or "" for r in rows))
        days, totals = fold.aggregate_rows(rows, labels, TEAM.column, metadata)
        meta = fold.metadata_of(
            totals, page=page, total_pages=-(-total // page_size), has_more=page * page_size < total
        )
        return public(scope.account_id, {"results": days, "metadata": meta})

    router.add_api_route(
        "/team/daily/activity", team_daily_activity, methods=["GET"], openapi_extra=serves(TEAM.handler)
    )
