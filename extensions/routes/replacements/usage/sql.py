"""The daily-activity statements: LiteLLM 1.108.7's (``repositories/daily_activity_sql.py``), one
account's rows.

Every statement reads the entity table through :func:`where`, whose first condition is the
caller's account; the token, user and team tables it joins are filtered by the same account, so a
join can never name another account's key alias, user or team. Values are always parameters; the
only text spliced in is table and column names from :mod:`.scope` and the placeholders built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from extensions import litellm
from extensions.routes.replacements.usage.scope import TEAM, Scope, adjusted_dates

__all__ = [
    "ExportCursor",
    "ExportType",
    "Params",
    "Statement",
    "aggregated",
    "cache_leakage_keys",
    "daily_rows",
    "entity_rollup",
    "export",
    "key_page",
    "key_search",
    "model_top_keys",
    "user_page",
    "where",
]

_MODEL_GROUP = "COALESCE(NULLIF(model_group, ''), model)"
API_KEY_ROLLED_UP_BIT = 32


class Params:
    """Positional parameters in the order they are named: ``p(value)`` is its placeholder."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: tuple[Any, ...]


def account_condition(scope: Scope, p: Params, alias: str = "") -> str:
    # `account_id = $n` (not IS NOT DISTINCT FROM) so the (account_id, date) index applies.
    column = f"{alias}account_id"
    return f"{column} IS NULL" if scope.account_id is None else f"{column} = {p(scope.account_id)}"


def where(scope: Scope, p: Params) -> str:
    """LiteLLM's ``build_where_clause`` with the account first."""
    start, end = adjusted_dates(scope)
    column = f'"{scope.entity.column}"'
    conditions = [account_condition(scope, p), f"date >= {p(start)}", f"date <= {p(end)}"]
    if scope.entity_ids == ():
        conditions.append("FALSE")
    elif scope.entity_ids:
        conditions.append(f"{column} = ANY({p(list(scope.entity_ids))}::text[])")
    if scope.exclude_ids:
        conditions.append(f"({column} IS NULL OR NOT ({column} = ANY({p(list(scope.exclude_ids))}::text[])))")
    if scope.models:
        conditions.append(f"model = ANY({p(list(scope.models))}::text[])")
    if scope.api_keys == ():
        conditions.append("FALSE")
    elif scope.api_keys:
        conditions.append(f"api_key = ANY({p(list(scope.api_keys))}::text[])")
    return " AND ".join(conditions)


_ROLLUP_METRICS = """
            SUM(spend)::float AS spend,
            SUM(prompt_tokens)::bigint AS prompt_tokens,
            SUM(completion_tokens)::bigint AS completion_tokens,
            SUM(cache_read_input_tokens)::bigint AS cache_read_input_tokens,
            SUM(cache_creation_input_tokens)::bigint AS cache_creation_input_tokens,
            SUM(compression_saved_tokens)::bigint AS compression_saved_tokens,
            SUM(compression_savings_spend)::float AS compression_savings_spend,
            SUM(prompt_caching_savings_spend)::float AS prompt_caching_savings_spend,
            SUM(gateway_injected_caching_savings_spend)::float AS gateway_injected_caching_savings_spend,
            SUM(autorouter_savings_spend)::float AS autorouter_savings_spend,
            SUM(api_requests)::bigint AS api_requests,
            SUM(successful_requests)::bigint AS successful_requests,
            SUM(failed_requests)::bigint AS failed_requests,
            SUM(total_response_time_ms)::bigint AS total_response_time_ms,
            SUM(timed_requests)::bigint AS timed_requests"""


def _top_api_keys(table: str, condition: str, sentinel: str, limit: str) -> str:
    return f"""
            SELECT api_key, COUNT(*) OVER () AS distinct_api_keys
            FROM "{table}"
            WHERE {condition} AND api_key <> {sentinel}
            GROUP BY api_key
            ORDER BY SUM(spend::numeric) DESC, api_key
            LIMIT {limit}"""


def aggregated(scope: Scope, *, api_key_limit: int) -> Statement:
    """Per day: totals and the model, model group, provider, MCP and endpoint rollups over every
    key, plus the same per key for the ``api_key_limit`` keys with the most spend (GROUPING SETS)."""
    p = Params()
    condition = where(scope, p)
    table = scope.entity.table
    top = _top_api_keys(table, condition, p(litellm.PTU_SENTINEL_API_KEY), p(api_key_limit))
    sql = f"""
        (SELECT
            date, NULL::text AS api_key, model, {_MODEL_GROUP} AS model_group,
            custom_llm_provider, mcp_namespaced_tool_name, endpoint,
            (GROUPING(date) << 6) | {API_KEY_ROLLED_UP_BIT}
                | GROUPING(model, {_MODEL_GROUP}, custom_llm_provider, mcp_namespaced_tool_name, endpoint)
                AS group_level,
            NULL::bigint AS distinct_api_keys,{_ROLLUP_METRICS}
        FROM "{table}"
        WHERE {condition}
        GROUP BY GROUPING SETS (
            (date), (date, model), (date, {_MODEL_GROUP}), (date, custom_llm_provider),
            (date, mcp_namespaced_tool_name), (date, endpoint), ()
        ))
        UNION ALL
        (WITH top_api_keys AS ({top})
        SELECT
            date, api_key, model, {_MODEL_GROUP} AS model_group,
            custom_llm_provider, mcp_namespaced_tool_name, endpoint,
            GROUPING(date, api_key, model, {_MODEL_GROUP}, custom_llm_provider, mcp_namespaced_tool_name, endpoint)
                AS group_level,
            MAX(top_api_keys.distinct_api_keys) AS distinct_api_keys,{_ROLLUP_METRICS}
        FROM "{table}" JOIN top_api_keys USING (api_key)
        WHERE {condition}
        GROUP BY GROUPING SETS (
            (date, api_key), (date, model, api_key), (date, {_MODEL_GROUP}, api_key),
            (date, custom_llm_provider, api_key), (date, mcp_namespaced_tool_name, api_key), (date, endpoint, api_key)
        ))"""
    return Statement(sql, tuple(p.values))


def entity_rollup(scope: Scope, *, api_key_limit: int) -> Statement:
    """Per day and entity: its totals, its distinct keys over the range, and its top keys."""
    p = Params()
    condition = where(scope, p)
    table, entity = scope.entity.table, f"COALESCE(\"{scope.entity.column}\", '')"
    sentinel = p(litellm.PTU_SENTINEL_API_KEY)
    top = _top_api_keys(table, condition, sentinel, p(api_key_limit))
    sql = f"""
        WITH top_api_keys AS ({top}),
        entity_api_keys AS (
            SELECT {entity} AS entity_id, COUNT(DISTINCT api_key)::bigint AS distinct_api_keys
            FROM "{table}" WHERE {condition} AND api_key <> {sentinel} GROUP BY {entity}
        )
        (SELECT e.*, COALESCE(k.distinct_api_keys, 0)::bigint AS distinct_api_keys
         FROM (
             SELECT {entity} AS entity_id, date, NULL::text AS api_key, 1 AS api_key_rolled,{_ROLLUP_METRICS}
             FROM "{table}" WHERE {condition} GROUP BY date, {entity}
         ) e
         LEFT JOIN entity_api_keys k ON k.entity_id = e.entity_id)
        UNION ALL
        (SELECT {entity} AS entity_id, date, api_key, 0 AS api_key_rolled,{_ROLLUP_METRICS},
                NULL::bigint AS distinct_api_keys
         FROM "{table}" JOIN top_api_keys USING (api_key)
         WHERE {condition}
         GROUP BY date, {entity}, api_key)"""
    return Statement(sql, tuple(p.values))


_KEY_SPEND = """
            COALESCE(SUM(spend), 0)::float AS spend,
            COALESCE(SUM(prompt_tokens), 0)::bigint AS prompt_tokens,
            COALESCE(SUM(completion_tokens), 0)::bigint AS completion_tokens,
            (COALESCE(SUM(prompt_tokens), 0) + COALESCE(SUM(completion_tokens), 0))::bigint AS total_tokens,
            COALESCE(SUM(api_requests), 0)::bigint AS api_requests,
            COALESCE(SUM(successful_requests), 0)::bigint AS successful_requests,
            COALESCE(SUM(failed_requests), 0)::bigint AS failed_requests"""
_CACHE_TOKENS = """,
            COALESCE(SUM(cache_read_input_tokens), 0)::bigint AS cache_read_input_tokens,
            COALESCE(SUM(cache_creation_input_tokens), 0)::bigint AS cache_creation_input_tokens"""


def key_page(scope: Scope, *, offset: int, limit: int) -> Statement:
    p = Params()
    condition = where(scope, p)
    sql = f"""
        WITH ranked AS (
            SELECT api_key,{_KEY_SPEND}{_CACHE_TOKENS}, SUM(spend::numeric) AS rank_spend
            FROM "{scope.entity.table}"
            WHERE {condition} AND api_key <> {p(litellm.PTU_SENTINEL_API_KEY)}
            GROUP BY api_key
        )
        SELECT (SELECT COUNT(*) FROM ranked)::bigint AS total_api_keys, page.*
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
            SELECT * FROM ranked ORDER BY rank_spend DESC, api_key LIMIT {p(limit)} OFFSET {p(offset)}
        ) AS page ON TRUE"""
    return Statement(sql, tuple(p.values))


def user_page(scope: Scope, *, offset: int, limit: int) -> Statement:
    p = Params()
    condition = where(scope, p)
    group = f"NULLIF(\"{scope.entity.column}\", '')"
    sql = f"""
        WITH ranked AS (
            SELECT {group} AS user_id,{_KEY_SPEND}, SUM(spend::numeric) AS rank_spend
            FROM "{scope.entity.table}"
            WHERE {condition}
            GROUP BY {group}
        )
        SELECT (SELECT COUNT(*) FROM ranked)::bigint AS total_users, page.*
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
            SELECT * FROM ranked ORDER BY rank_spend DESC, user_id ASC NULLS LAST
            LIMIT {p(limit)} OFFSET {p(offset)}
        ) AS page ON TRUE"""
    return Statement(sql, tuple(p.values))


def key_search(scope: Scope, *, search: str, limit: int) -> Statement:
    """Keys of the scope whose hash, alias, owner id or owner email contains ``search``; the
    token and user tables are read for this account only."""
    p = Params()
    condition = where(scope, p)
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = p(f"%{escaped}%")
    own = {alias: account_condition(scope, p, f"{alias}.") for alias in ("v", "d", "u")}
    sql = f"""
        SELECT api_key,{_KEY_SPEND}{_CACHE_TOKENS}
        FROM "{scope.entity.table}"
        WHERE {condition}
          AND api_key <> {p(litellm.PTU_SENTINEL_API_KEY)}
          AND (
            api_key ILIKE {like} ESCAPE '\\'
            OR api_key IN (
                SELECT v.token FROM "LiteLLM_VerificationToken" v
                LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = v.user_id AND {own["u"]}
                WHERE {own["v"]} AND (v.key_alias ILIKE {like} ESCAPE '\\'
                   OR v.user_id ILIKE {like} ESCAPE '\\' OR u.user_email ILIKE {like} ESCAPE '\\')
                UNION
                SELECT d.token FROM "LiteLLM_DeletedVerificationToken" d
                LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = d.user_id AND {own["u"]}
                WHERE {own["d"]} AND (d.key_alias ILIKE {like} ESCAPE '\\'
                   OR d.user_id ILIKE {like} ESCAPE '\\' OR u.user_email ILIKE {like} ESCAPE '\\')
            )
          )
        GROUP BY api_key
        ORDER BY SUM(spend::numeric) DESC, api_key
        LIMIT {p(limit)}"""
    return Statement(sql, tuple(p.values))


def model_top_keys(scope: Scope, *, model_group: str, by_model_group: bool, limit: int) -> Statement:
    p = Params()
    condition = where(scope, p)
    names = p(list(scope.stored_name(model_group)))
    model = f"{_MODEL_GROUP} = ANY({names}::text[])" if by_model_group else f"model = ANY({names}::text[])"
    sql = f"""
        SELECT api_key,{_KEY_SPEND}{_CACHE_TOKENS}
        FROM "{scope.entity.table}"
        WHERE {condition} AND {model} AND api_key <> {p(litellm.PTU_SENTINEL_API_KEY)}
        GROUP BY api_key
        ORDER BY SUM(spend::numeric) DESC, api_key
        LIMIT {p(limit)}"""
    return Statement(sql, tuple(p.values))


def cache_leakage_keys(scope: Scope, *, limit: int) -> Statement:
    p = Params()
    condition = where(scope, p)
    sql = f"""
        SELECT api_key,{_KEY_SPEND}{_CACHE_TOKENS}
        FROM "{scope.entity.table}"
        WHERE {condition} AND api_key <> {p(litellm.PTU_SENTINEL_API_KEY)}
        GROUP BY api_key
        HAVING SUM(prompt_tokens) - SUM(cache_read_input_tokens) > 0
        ORDER BY SUM(prompt_tokens) - SUM(cache_read_input_tokens) DESC, api_key
        LIMIT {p(limit)}"""
    return Statement(sql, tuple(p.values))


def daily_rows(scope: Scope, *, page: int, page_size: int) -> Statement:
    """One page of raw daily rows (newest first) and the number of rows in the scope."""
    p = Params()
    condition = where(scope, p)
    sql = f"""
        WITH scoped AS (SELECT * FROM "{scope.entity.table}" WHERE {condition})
        SELECT (SELECT COUNT(*) FROM scoped)::bigint AS total_count, to_jsonb(page) AS row
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
            SELECT * FROM scoped ORDER BY date DESC, id ASC LIMIT {p(page_size)} OFFSET {p((page - 1) * page_size)}
        ) AS page ON TRUE"""
    return Statement(sql, tuple(p.values))


class ExportType(StrEnum):
    DAILY = "daily"
    DAILY_WITH_KEYS = "daily_with_keys"
    DAILY_WITH_MODELS = "daily_with_models"
    DAILY_WITH_USERS = "daily_with_users"


@dataclass(frozen=True, slots=True)
class ExportCursor:
    date: str
    entity_id: str
    group_key: str


def _token_joins(scope: Scope, p: Params) -> tuple[str, ...]:
    return (
        'LEFT JOIN "LiteLLM_VerificationToken" vt ON vt.token = scoped.api_key '
        f"AND {account_condition(scope, p, 'vt.')}",
        f"""LEFT JOIN LATERAL (
                SELECT key_alias, user_id FROM "LiteLLM_DeletedVerificationToken" dvt0
                WHERE dvt0.token = scoped.api_key AND {account_condition(scope, p, "dvt0.")}
                ORDER BY deleted_at DESC LIMIT 1
            ) dvt ON vt.token IS NULL""",
        'LEFT JOIN "LiteLLM_UserTable" u ON u.user_id = COALESCE(vt.user_id, dvt.user_id) '
        f"AND {account_condition(scope, p, 'u.')}",
    )


def _export_grouping(kind: ExportType, scope: Scope, p: Params) -> tuple[str, str, str, tuple[str, ...]]:
    """(group key, api_key output, user columns, joins) per export type, as LiteLLM's."""
    no_users = "NULL::text AS key_alias, NULL::text AS user_id, NULL::text AS user_email"
    if kind is ExportType.DAILY:
        return "''", "NULL::text", no_users, ()
    if kind is ExportType.DAILY_WITH_MODELS:
        return "COALESCE(scoped.model, '')", "NULL::text", no_users, ()
    joins = _token_joins(scope, p)
    if kind is ExportType.DAILY_WITH_KEYS:
        users = (
            "MAX(COALESCE(vt.key_alias, dvt.key_alias)) AS key_alias, "
            "MAX(COALESCE(vt.user_id, dvt.user_id)) AS user_id, MAX(u.user_email) AS user_email"
        )
        return "scoped.api_key", "NULLIF(scoped.api_key, '')", users, joins
    users = (
        "NULL::text AS key_alias, MAX(COALESCE(vt.user_id, dvt.user_id)) AS user_id, MAX(u.user_email) AS user_email"
    )
    return "COALESCE(vt.user_id, dvt.user_id, '')", "NULL::text", users, joins


def export(scope: Scope, *, kind: ExportType, after: ExportCursor | None, batch_size: int) -> Statement:
    """One keyset page of the export rows (LiteLLM's ``build_export_sql``)."""
    p = Params()
    condition = where(scope, p)
    if kind is not ExportType.DAILY:
        condition += f" AND api_key <> {p(litellm.PTU_SENTINEL_API_KEY)}"
    group_key, api_key, users, joins = _export_grouping(kind, scope, p)
    entity = f"COALESCE(scoped.\"{scope.entity.column}\", '')"
    keys = [f"scoped.date, {entity}", *([group_key] if kind is not ExportType.DAILY else [])]
    alias = "NULL::text"
    if scope.entity is TEAM:
        joins = (
            *joins,
            f'LEFT JOIN "LiteLLM_TeamTable" tt ON tt.team_id = scoped.team_id AND {account_condition(scope, p, "tt.")}',
        )
        alias = "MAX(tt.team_alias)"
    cursor = ""
    if after is not None:
        cursor = (
            f" AND (scoped.date, {entity}, {group_key}) > ({p(after.date)}, {p(after.entity_id)}, {p(after.group_key)})"
        )
    model = "NULLIF(COALESCE(scoped.model, ''), '')" if kind is ExportType.DAILY_WITH_MODELS else "NULL::text"
    sql = f"""
        WITH scoped AS (SELECT * FROM "{scope.entity.table}" WHERE {condition})
        SELECT
            scoped.date, {entity} AS entity_id, {alias} AS entity_alias, {api_key} AS api_key, {users},
            {model} AS model,
            COALESCE(SUM(scoped.spend), 0)::float AS spend,
            0::float AS flat_cost,
            COALESCE(SUM(scoped.prompt_tokens), 0)::bigint AS prompt_tokens,
            COALESCE(SUM(scoped.completion_tokens), 0)::bigint AS completion_tokens,
            COALESCE(SUM(scoped.api_requests), 0)::bigint AS api_requests,
            COALESCE(SUM(scoped.successful_requests), 0)::bigint AS successful_requests,
            COALESCE(SUM(scoped.failed_requests), 0)::bigint AS failed_requests,
            COALESCE(SUM(scoped.cache_read_input_tokens), 0)::bigint AS cache_read_input_tokens,
            COALESCE(SUM(scoped.cache_creation_input_tokens), 0)::bigint AS cache_creation_input_tokens
        FROM scoped {" ".join(joins)}
        WHERE TRUE{cursor}
        GROUP BY {", ".join(keys)}
        ORDER BY {", ".join(keys)}
        LIMIT {p(batch_size)}"""
    return Statement(sql, tuple(p.values))
