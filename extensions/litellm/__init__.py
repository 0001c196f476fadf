"""Everything Atrium knows about LiteLLM beyond its public HTTP surface, behind one package.

No other module imports ``litellm`` (``tests/litellm/test_import_boundary.py`` enforces it).
Each private module covers one concern and lists the internals it touches in its
``INTERNALS``: ``_contract`` (pinned versions, the check doctor/serve run), ``_auth``
(credentials, hashing, end users), ``_ui`` (UI sessions and their cookie), ``_roles``
(LiteLLM's role names), ``_app`` (app, routes, Prisma client, callbacks, errors), ``_router``
(router, deployments, provider object ids), ``_secrets`` (encryption, secret references),
``_sql`` (the raw statements the raw SQL guard admits, checked against the installed source),
``_usage`` (usage analytics bounds and markers Atrium's daily-activity replacements mirror),
``_lists`` (LiteLLM's list framework, for account-scoped lists), ``_users`` (the admin view of
``/user/info``), ``_catalog`` (the packaged model cost map apart from runtime registrations), ``_limits``
(LiteLLM's rate-limit refusal) and
``_prisma`` (the engine attribute LiteLLM writes on the Prisma client).
This module only hands on the names other modules use.
"""

from __future__ import annotations

from extensions.litellm._app import (
    RouteInfo,
    custom_logger_class,
    is_proxy_exception,
    iter_routes,
    prisma_client,
    proxy_app,
    proxy_error_body,
    proxy_exception,
    proxy_exception_body,
    request_models,
    route_dependants,
    wrap_prisma_db,
)
from extensions.litellm._auth import (
    api_key_from_headers,
    api_key_from_query,
    end_user_header_names,
    end_user_id_of,
    hash_password,
    hash_token,
    master_key,
    query_key_allowed,
    query_key_wins,
)
from extensions.litellm._base import Internal
from extensions.litellm._budgets import budget_exceeded, response_cost, worst_case_cost
from extensions.litellm._catalog import catalog_cost_map, runtime_cost_entry
from extensions.litellm._contract import (
    CONTRACT,
    INTERNALS,
    Contract,
    assert_compatible,
    compatibility_problems,
    litellm_schema_path,
    shipped_migrations_dir,
)
from extensions.litellm._gateway import billable_request, gateway_success
from extensions.litellm._limits import rate_limit_error
from extensions.litellm._lists import (
    PROBLEM_MEDIA_TYPE,
    Fetch,
    Problem,
    date_range_error,
    facet_page,
    list_budgets,
    public_errors,
    query_problem,
    unknown_query_problem,
)
from extensions.litellm._prisma import LEGACY_ENGINE_ATTRIBUTE, accept_legacy_engine_attribute
from extensions.litellm._roles import (
    PROXY_ADMIN_USER_ID,
    ROLE_INTERNAL_USER,
    ROLE_INTERNAL_USER_VIEWER,
    ROLE_PROXY_ADMIN,
    ROLE_PROXY_ADMIN_VIEWER,
)
from extensions.litellm._router import (
    ObjectRef,
    declared_litellm_params,
    decode_object_id,
    llm_router,
    vector_store_registered,
)
from extensions.litellm._secrets import (
    decrypt_secret,
    dynamic_callback_params,
    encrypt_secret,
    secret_reference_prefixes,
)
from extensions.litellm._sql import (
    REVIEWED_STATEMENTS,
    ReviewedStatement,
    SqlSite,
    StatementSourceError,
    issued_sql,
    normalise_sql,
    rendered_sql,
    reviewed_statement,
    sql_digest,
    statement_problems,
)
from extensions.litellm._ui import (
    UI_SESSION_COOKIE,
    UI_SESSION_TEAM,
    mint_ui_session,
    set_ui_session_cookie,
    ui_export_dir,
    ui_session_key,
)
from extensions.litellm._usage import (
    PTU_SENTINEL_API_KEY,
    TAG_ANALYTICS_MAX_DAYS,
    TAG_ANALYTICS_MAX_MONTHS,
    TAG_ANALYTICS_MAX_TAGS,
    TAG_ANALYTICS_MAX_WEEKS,
    TEAM_AGGREGATED_MAX_RANGE_DAYS,
    USAGE_CACHE_LEAKAGE_KEYS_DEFAULT,
    USAGE_CACHE_LEAKAGE_KEYS_MAX,
    USAGE_EXPORT_BATCH_SIZE,
    USAGE_KEY_PAGE_DEFAULT,
    USAGE_KEY_PAGE_MAX,
    USAGE_KEY_SEARCH_DEFAULT,
    USAGE_KEY_SEARCH_MAX,
    USAGE_MODEL_TOP_KEYS_DEFAULT,
    USAGE_MODEL_TOP_KEYS_MAX,
    USAGE_TOP_API_KEYS_DEFAULT,
    USAGE_TOP_API_KEYS_MAX,
    USAGE_USER_PAGE_DEFAULT,
    USAGE_USER_PAGE_MAX,
)
from extensions.litellm._users import admin_user_info

__all__ = [
    "CONTRACT",
    "INTERNALS",
    "LEGACY_ENGINE_ATTRIBUTE",
    "PROBLEM_MEDIA_TYPE",
    "PROXY_ADMIN_USER_ID",
    "PTU_SENTINEL_API_KEY",
    "REVIEWED_STATEMENTS",
    "ROLE_INTERNAL_USER",
    "ROLE_INTERNAL_USER_VIEWER",
    "ROLE_PROXY_ADMIN",
    "ROLE_PROXY_ADMIN_VIEWER",
    "TAG_ANALYTICS_MAX_DAYS",
    "TAG_ANALYTICS_MAX_MONTHS",
    "TAG_ANALYTICS_MAX_TAGS",
    "TAG_ANALYTICS_MAX_WEEKS",
    "TEAM_AGGREGATED_MAX_RANGE_DAYS",
    "UI_SESSION_COOKIE",
    "UI_SESSION_TEAM",
    "USAGE_CACHE_LEAKAGE_KEYS_DEFAULT",
    "USAGE_CACHE_LEAKAGE_KEYS_MAX",
    "USAGE_EXPORT_BATCH_SIZE",
    "USAGE_KEY_PAGE_DEFAULT",
    "USAGE_KEY_PAGE_MAX",
    "USAGE_KEY_SEARCH_DEFAULT",
    "USAGE_KEY_SEARCH_MAX",
    "USAGE_MODEL_TOP_KEYS_DEFAULT",
    "USAGE_MODEL_TOP_KEYS_MAX",
    "USAGE_TOP_API_KEYS_DEFAULT",
    "USAGE_TOP_API_KEYS_MAX",
    "USAGE_USER_PAGE_DEFAULT",
    "USAGE_USER_PAGE_MAX",
    "Contract",
    "Fetch",
    "Internal",
    "ObjectRef",
    "Problem",
    "ReviewedStatement",
    "RouteInfo",
    "SqlSite",
    "StatementSourceError",
    "accept_legacy_engine_attribute",
    "admin_user_info",
    "api_key_from_headers",
    "api_key_from_query",
    "assert_compatible",
    "billable_request",
    "budget_exceeded",
    "catalog_cost_map",
    "compatibility_problems",
    "custom_logger_class",
    "date_range_error",
    "declared_litellm_params",
    "decode_object_id",
    "decrypt_secret",
    "dynamic_callback_params",
    "encrypt_secret",
    "end_user_header_names",
    "end_user_id_of",
    "facet_page",
    "gateway_success",
    "hash_password",
    "hash_token",
    "is_proxy_exception",
    "issued_sql",
    "iter_routes",
    "list_budgets",
    "litellm_schema_path",
    "llm_router",
    "master_key",
    "mint_ui_session",
    "normalise_sql",
    "prisma_client",
    "proxy_app",
    "proxy_error_body",
    "proxy_exception",
    "proxy_exception_body",
    "public_errors",
    "query_key_allowed",
    "query_key_wins",
    "query_problem",
    "rate_limit_error",
    "rendered_sql",
    "request_models",
    "response_cost",
    "reviewed_statement",
    "route_dependants",
    "runtime_cost_entry",
    "secret_reference_prefixes",
    "set_ui_session_cookie",
    "shipped_migrations_dir",
    "sql_digest",
    "statement_problems",
    "ui_export_dir",
    "ui_session_key",
    "unknown_query_problem",
    "vector_store_registered",
    "worst_case_cost",
    "wrap_prisma_db",
]
