"""The only module that touches LiteLLM internals.

Everything Atrium needs from LiteLLM beyond its public HTTP surface goes through a
function here, and every such internal is listed in :data:`INTERNALS` so that
``tests/test_litellm_adapter.py`` can check each one against the installed version.
An upgrade of LiteLLM therefore fails loudly in CI (contract tests) and at start-up
(:func:`compatibility_problems`), never silently in production.

Version facts that need no import of the (slow) proxy module are checked first, so
``atrium doctor`` answers quickly.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extensions.errors import CompatibilityError

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "CONTRACT",
    "INTERNALS",
    "Contract",
    "Internal",
    "ObjectRef",
    "RouteInfo",
    "api_key_from_headers",
    "api_key_from_query",
    "assert_compatible",
    "compatibility_problems",
    "custom_logger_class",
    "declared_litellm_params",
    "decode_object_id",
    "decrypt_secret",
    "dynamic_callback_params",
    "encrypt_secret",
    "end_user_header_names",
    "end_user_id_of",
    "hash_password",
    "hash_token",
    "is_proxy_exception",
    "iter_routes",
    "litellm_schema_path",
    "llm_router",
    "master_key",
    "mint_ui_session",
    "prisma_client",
    "proxy_app",
    "proxy_error_body",
    "proxy_exception",
    "proxy_exception_body",
    "query_key_allowed",
    "query_key_wins",
    "request_models",
    "route_dependants",
    "secret_reference_prefixes",
    "set_ui_session_cookie",
    "shipped_migrations_dir",
    "vector_store_registered",
    "wrap_prisma_db",
]


@dataclass(frozen=True)
class Contract:
    """What this build of Atrium was written and tested against."""

    versions: Mapping[str, str]
    schema_sha256: str
    newest_migration: str


CONTRACT = Contract(
    versions={"litellm": "1.108.7", "litellm-proxy-extras": "0.4.110", "prisma": "0.15.0"},
    schema_sha256="873f78ae1d36e62145d5d67933146e63b80991fd2f000c21bfa32ffa68b17ac0",
    newest_migration="20261015000000_managed_object_end_user_id",
)


@dataclass(frozen=True)
class Internal:
    """One LiteLLM internal Atrium relies on: where it lives and the shape we expect."""

    module: str
    attribute: str
    parameters: tuple[str, ...] | None = None  # None: not a callable we call or override


# The request bodies (pydantic models) of LiteLLM's management routes open to tenants that
# carry ids; `extensions.tenancy.references` classifies every id-like field of them.
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

# Keep this list in step with the functions below: the contract test walks it.
INTERNALS: tuple[Internal, ...] = (
    Internal("litellm.proxy.proxy_server", "app"),
    Internal("litellm.proxy.proxy_server", "prisma_client"),
    Internal("litellm.proxy.proxy_server", "master_key"),
    Internal("litellm.proxy.proxy_server", "proxy_startup_event", ("app",)),
    Internal("litellm.proxy.utils", "PrismaClient"),
    Internal("litellm.proxy._lazy_features", "register_all_features", ("app", "features")),
    Internal("fastapi.routing", "iter_route_contexts", ("routes",)),
    Internal("litellm.proxy.utils", "hash_token", ("token",)),
    Internal("litellm.proxy.auth.user_api_key_auth", "_get_bearer_token_or_received_api_key", ("api_key",)),
    Internal("litellm.types.proxy.auth.special_headers", "SpecialHeaders"),
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
    # Per-account models (extensions/models): the router each worker reloads from the DB,
    # the deployment filter and the last hook before a provider call.
    Internal("litellm.proxy.proxy_server", "llm_router"),
    Internal("litellm.router", "Router.get_model_list", ("self", "model_name", "team_id")),
    Internal("litellm.router", "Router.has_model_id", ("self", "candidate_id")),
    Internal("litellm.router", "Router.get_deployment", ("self", "model_id")),
    Internal(
        "litellm.integrations.custom_logger",
        "CustomLogger.async_filter_deployments",
        ("self", "model", "healthy_deployments", "messages", "request_kwargs", "parent_otel_span"),
    ),
    Internal(
        "litellm.integrations.custom_logger",
        "CustomLogger.async_pre_call_deployment_hook",
        ("self", "kwargs", "call_type"),
    ),
    Internal(
        "litellm.proxy._types",
        "ProxyException.__init__",
        ("self", "message", "type", "param", "code", "headers", "openai_code", "provider_specific_fields"),
    ),
    # Identity: encrypt stored secrets and mint UI sessions exactly as LiteLLM's own logins do.
    Internal(
        "litellm.proxy.common_utils.encrypt_decrypt_utils", "encrypt_value_helper", ("value", "new_encryption_key")
    ),
    Internal(
        "litellm.proxy.common_utils.encrypt_decrypt_utils",
        "decrypt_value_helper",
        ("value", "key", "exception_type", "return_original_value"),
    ),
    Internal("litellm.proxy.management_endpoints.key_management_endpoints", "generate_key_helper_fn"),
    Internal(
        "litellm.proxy.auth.login_utils",
        "LoginResult",
        ("user_id", "key", "user_email", "user_role", "login_method", "password_reset_required"),
    ),
    Internal(
        "litellm.proxy.auth.login_utils", "create_ui_token_object", ("login_result", "general_settings", "premium_user")
    ),
    Internal("litellm.proxy.auth.login_utils", "encode_ui_session_jwt", ("returned_ui_token_object", "master_key")),
    Internal(
        "litellm.proxy.management_endpoints.ui_sso", "set_session_token_cookie", ("response", "request", "jwt_token")
    ),
    Internal("litellm.proxy.proxy_server", "general_settings"),
    Internal("litellm.proxy.proxy_server", "premium_user"),
    Internal("litellm.constants", "LITELLM_UI_SESSION_DURATION"),
    Internal("litellm.proxy.utils", "hash_password", ("password",)),
    # Provider objects (extensions/models/provider_objects.py): the ids LiteLLM encodes the
    # deployment into, and the process-wide vector store registry.
    Internal("litellm.proxy.openai_files_endpoints.common_utils", "decode_model_from_file_id", ("encoded_id",)),
    Internal("litellm.proxy.openai_files_endpoints.common_utils", "is_base64_encoded_unified_file_id", ("b64_uid",)),
    Internal(
        "litellm.proxy.openai_files_endpoints.common_utils", "get_models_from_unified_file_id", ("unified_file_id",)
    ),
    Internal("litellm.proxy.openai_files_endpoints.common_utils", "get_model_id_from_unified_batch_id", ("file_id",)),
    Internal("litellm.responses.utils", "ResponsesAPIRequestUtils.decode_responses_api_response_id", ("response_id",)),
    Internal("litellm.responses.utils", "ResponsesAPIRequestUtils.decode_container_id", ("container_id",)),
    Internal("litellm.types.videos.utils", "decode_video_id_with_provider", ("encoded_video_id",)),
    Internal("litellm.types.videos.utils", "decode_character_id_with_provider", ("encoded_character_id",)),
    Internal("litellm", "vector_store_registry"),
    Internal(
        "litellm.vector_stores.vector_store_registry",
        "VectorStoreRegistry.get_litellm_managed_vector_store_from_registry",
        ("self", "vector_store_id"),
    ),
    Internal("litellm.proxy._types", "ProxyException.to_dict", ("self",)),
    # Id references (extensions/tenancy/references.py): the body models whose id fields it classifies.
    *(Internal(module, name) for module, name in _REQUEST_MODELS),
    # Configuration references (extensions/tenancy/config_values.py): the fields a deployment's
    # litellm_params declares, and every prefix LiteLLM's secret readers dereference.
    Internal("litellm.types.router", "LiteLLM_Params"),
    Internal("litellm.types.secret_managers.main", "KeyManagementSystem"),
    Internal("litellm.proxy.auth.auth_utils", "_SECRET_REFERENCE_PREFIXES"),
    Internal("litellm.llms.base_llm.auth.identity_source", "_POINTER_REF_PREFIXES"),
    Internal("litellm.litellm_core_utils.initialize_dynamic_callback_params", "_supported_callback_params"),
    # End users (customers): Atrium maps a tenant's end-user id to `<account>/<id>` wherever
    # LiteLLM reads one, so it asks LiteLLM itself which id and headers a request names.
    Internal("litellm.proxy.auth.auth_utils", "get_end_user_id_from_request_body", ("request_body", "request_headers")),
    Internal("litellm.proxy.auth.auth_utils", "get_customer_user_header_from_mapping", ("user_id_mapping",)),
    Internal("litellm.constants", "STANDARD_CUSTOMER_ID_HEADERS"),
)

# Headers LiteLLM reads an API key from, in the order `get_api_key` tries them.
_KEY_HEADER_ORDER = (
    "custom_litellm_api_key",
    "openai_authorization",
    "azure_authorization",
    "anthropic_authorization",
    "google_ai_studio_authorization",
    "azure_apim_authorization",
)


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise CompatibilityError(f"package {module!r} is not installed", hint="run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


def litellm_schema_path() -> Path:
    """LiteLLM's Prisma schema as shipped with the migrations we apply."""
    return _package_dir("litellm_proxy_extras") / "schema.prisma"


def shipped_migrations_dir() -> Path:
    return _package_dir("litellm_proxy_extras") / "migrations"


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _resolve(internal: Internal) -> Any:
    target: Any = importlib.import_module(internal.module)
    for part in internal.attribute.split("."):
        target = getattr(target, part)
    return target


def _signature_problem(internal: Internal) -> str | None:
    where = f"{internal.module}.{internal.attribute}"
    try:
        target = _resolve(internal)
    except (ImportError, AttributeError) as exc:
        return f"{where} is missing ({exc})"
    if internal.parameters is None:
        return None
    try:
        found = tuple(inspect.signature(target).parameters)
    except (TypeError, ValueError) as exc:
        return f"{where} has no inspectable signature ({exc})"
    if found != internal.parameters:
        return f"{where} signature changed: expected {internal.parameters}, found {found}"
    return None


def compatibility_problems(contract: Contract = CONTRACT, *, check_internals: bool = True) -> list[str]:
    """Every way the installed LiteLLM differs from ``contract``; empty when compatible."""
    problems: list[str] = []
    for distribution, pinned in contract.versions.items():
        installed = _installed_version(distribution)
        if installed != pinned:
            problems.append(f"{distribution}: pinned {pinned}, installed {installed or 'nothing'}")
    try:
        schema = litellm_schema_path()
        digest = hashlib.sha256(schema.read_bytes()).hexdigest()
        if digest != contract.schema_sha256:
            problems.append(
                f"litellm schema {schema} changed: sha256 {digest}, expected {contract.schema_sha256} "
                "(re-run scripts/sync_schema.py and review the diff)"
            )
        migrations = sorted(p.name for p in shipped_migrations_dir().iterdir() if p.is_dir())
        newest = migrations[-1] if migrations else "none"
        if newest != contract.newest_migration:
            problems.append(f"newest shipped litellm migration is {newest}, expected {contract.newest_migration}")
    except CompatibilityError as exc:
        problems.append(str(exc))
    if check_internals and not problems:
        problems.extend(p for p in map(_signature_problem, INTERNALS) if p)
    return problems


def assert_compatible(contract: Contract = CONTRACT) -> None:
    problems = compatibility_problems(contract)
    if problems:
        raise CompatibilityError(
            "installed LiteLLM does not match the version Atrium was built for:\n  - " + "\n  - ".join(problems),
            hint="install the pinned versions (`make install`) or update extensions/litellm_adapter.py "
            "after reviewing the upgrade",
        )


def _proxy_server() -> Any:
    return importlib.import_module("litellm.proxy.proxy_server")


def proxy_app() -> FastAPI:
    """LiteLLM's FastAPI app (importing it builds LiteLLM's routes)."""
    app: FastAPI = _proxy_server().app
    return app


def prisma_client() -> Any | None:
    """LiteLLM's ``PrismaClient`` once its lifespan has connected, else None.

    Read at call time: LiteLLM assigns the module global during start-up.
    """
    return _proxy_server().prisma_client


def llm_router() -> Any | None:
    """LiteLLM's ``Router`` of this worker (None before start-up or without models).

    Read at call time: LiteLLM rebuilds and reassigns it when it reloads models.
    """
    return _proxy_server().llm_router


def proxy_exception(message: str, *, status: int, error_type: str, param: str | None, code: str) -> Exception:
    """An error LiteLLM's endpoints pass to the client as is: OpenAI's error shape and status."""
    cls = importlib.import_module("litellm.proxy._types").ProxyException
    error: Exception = cls(message=message, type=error_type, param=param, code=status, openai_code=code)
    return error


@functools.cache
def declared_litellm_params() -> frozenset[str]:
    """The fields LiteLLM's deployment model (``LiteLLM_Params``) declares; it also accepts extras."""
    fields: Mapping[str, Any] = importlib.import_module("litellm.types.router").LiteLLM_Params.model_fields
    return frozenset(fields)


@functools.cache
def secret_reference_prefixes() -> tuple[str, ...]:
    """Every value prefix one of LiteLLM's secret readers dereferences (lower case).

    ``os.environ/`` and ``oidc/`` (``get_secret``), the pointer prefixes of the workload identity
    sources, and ``<secret manager>/`` for every key management system LiteLLM supports.
    """
    found: set[str] = set(importlib.import_module("litellm.proxy.auth.auth_utils")._SECRET_REFERENCE_PREFIXES)
    found |= set(importlib.import_module("litellm.llms.base_llm.auth.identity_source")._POINTER_REF_PREFIXES)
    kms = importlib.import_module("litellm.types.secret_managers.main").KeyManagementSystem
    found |= {f"{member.value}/" for member in kms}
    return tuple(sorted(prefix.lower() for prefix in found))


@functools.cache
def dynamic_callback_params() -> tuple[str, ...]:
    """Request/metadata params LiteLLM turns into per-request logging callback settings."""
    module = importlib.import_module("litellm.litellm_core_utils.initialize_dynamic_callback_params")
    return tuple(module._supported_callback_params)


def master_key() -> str | None:
    key: str | None = _proxy_server().master_key
    return key


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
        lazy = importlib.import_module("litellm.proxy._lazy_features")
        lazy.register_all_features(app)
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


def hash_token(token: str) -> str:
    hashed: str = importlib.import_module("litellm.proxy.utils").hash_token(token)
    return hashed


def custom_logger_class() -> type:
    cls: type = importlib.import_module("litellm.integrations.custom_logger").CustomLogger
    return cls


# LiteLLM 1.108.7 reads a `key` query parameter as the credential on Google-style routes:
# the Gemini pass-through prefers it over every header (verified against the running
# proxy); generateContent routes use it when no header carries a key.
_QUERY_KEY_WINS = ("/gemini/",)
_QUERY_KEY_FALLBACK = (":generateContent", ":streamGenerateContent", ":countTokens", ":embedContent")


def query_key_wins(path: str) -> bool:
    return path.startswith(_QUERY_KEY_WINS)


def query_key_allowed(path: str) -> bool:
    return query_key_wins(path) or any(marker in path for marker in _QUERY_KEY_FALLBACK)


def api_key_from_query(scope: Mapping[str, Any]) -> str | None:
    from urllib.parse import parse_qs

    raw = scope.get("query_string", b"")
    values = parse_qs(raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)).get("key")
    return values[0] if values else None


@functools.cache
def _key_header_reader() -> tuple[tuple[str, ...], Callable[[str], str]]:
    special = importlib.import_module("litellm.types.proxy.auth.special_headers").SpecialHeaders
    strip = importlib.import_module("litellm.proxy.auth.user_api_key_auth")._get_bearer_token_or_received_api_key
    return tuple(getattr(special, member).value for member in _KEY_HEADER_ORDER), strip


def api_key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The API key LiteLLM would read from these headers, extracted the way it does.

    ``headers`` must be case-insensitive (Starlette's ``Headers``).
    """
    names, strip = _key_header_reader()
    for name in names:
        value = headers.get(name)
        if value:
            key: str = strip(value)
            return key.strip() or None
    return None


# -- Identity: secrets at rest and UI sessions ------------------------------------------------
UI_SESSION_TEAM = "litellm-dashboard"  # the team LiteLLM's logins put UI session keys in


def encrypt_secret(value: str) -> str:
    """Encrypt with LiteLLM's helper (LITELLM_SALT_KEY, else the master key), as it stores credentials."""
    helper = importlib.import_module("litellm.proxy.common_utils.encrypt_decrypt_utils").encrypt_value_helper
    encrypted: str = helper(value)
    return encrypted


def decrypt_secret(value: str, name: str) -> str | None:
    """The plaintext, or None when the salt/master key changed since it was stored."""
    helper = importlib.import_module("litellm.proxy.common_utils.encrypt_decrypt_utils").decrypt_value_helper
    plain: str | None = helper(value, name, "debug", False)
    return plain


async def mint_ui_session(*, user_id: str, user_email: str | None, user_role: str) -> tuple[str, str]:
    """A LiteLLM admin-UI session for an already provisioned user: ``(virtual key, signed cookie JWT)``.

    The same steps as LiteLLM's ``/login`` and SSO callback: a virtual key in team
    ``litellm-dashboard`` for LITELLM_UI_SESSION_DURATION, wrapped by ``create_ui_token_object``
    and ``encode_ui_session_jwt`` (HS256, master key), so the UI and LiteLLM's auth accept it.
    """
    server = _proxy_server()
    login = importlib.import_module("litellm.proxy.auth.login_utils")
    keys = importlib.import_module("litellm.proxy.management_endpoints.key_management_endpoints")
    litellm = importlib.import_module("litellm")
    duration = importlib.import_module("litellm.constants").LITELLM_UI_SESSION_DURATION
    response = await keys.generate_key_helper_fn(
        request_type="key",
        duration=duration,
        key_max_budget=litellm.max_ui_session_budget,
        spend=0,
        user_id=user_id,
        team_id=UI_SESSION_TEAM,
        user_role=user_role,
        metadata={"login_method": "sso"},
    )
    key: str = response["token"]
    result = login.LoginResult(
        user_id=user_id,
        key=key,
        user_email=user_email,
        user_role=user_role,
        login_method="sso",
        password_reset_required=False,
    )
    token_object = login.create_ui_token_object(
        login_result=result, general_settings=server.general_settings, premium_user=server.premium_user
    )
    jwt_token: str = login.encode_ui_session_jwt(token_object, server.master_key or "")
    return key, jwt_token


def set_ui_session_cookie(response: Any, request: Any, jwt_token: str) -> None:
    """LiteLLM's own ``token`` cookie (not HttpOnly: the UI reads it; Secure behind HTTPS)."""
    importlib.import_module("litellm.proxy.management_endpoints.ui_sso").set_session_token_cookie(
        response, request, jwt_token
    )


def hash_password(password: str) -> str:
    """LiteLLM's password hash (scrypt), so its own ``/login`` verifies passwords Atrium sets."""
    hashed: str = importlib.import_module("litellm.proxy.utils").hash_password(password)
    return hashed


# -- Provider objects: ids that name the deployment they were made with ----------------------


@dataclass(frozen=True)
class ObjectRef:
    """What LiteLLM encoded into an object id: router model names and deployment ids.

    ``encoded`` is True when the id is one of LiteLLM's encodings at all, even when it names
    no deployment (then the caller cannot attribute it).
    """

    encoded: bool
    model_names: tuple[str, ...] = ()
    model_ids: tuple[str, ...] = ()


_FILES_UTILS = "litellm.proxy.openai_files_endpoints.common_utils"


def _decoded_parts(value: str) -> ObjectRef:
    files = importlib.import_module(_FILES_UTILS)
    names: list[str] = []
    ids: list[str] = []
    encoded = False
    unified = files.is_base64_encoded_unified_file_id(value)  # managed files/batches (litellm_proxy:...)
    if unified:
        encoded = True
        names += files.get_models_from_unified_file_id(unified)
        model_id = files.get_model_id_from_unified_batch_id(unified) if "model_id:" in unified else None
        ids += [model_id] if model_id else []
        ids += re.findall(r"(?:^|;)model_id,([^;]+)", unified)
    by_model = files.decode_model_from_file_id(value)  # file-/batch_ ids of model-routed calls
    if by_model:
        encoded = True
        names.append(by_model)
    responses = importlib.import_module("litellm.responses.utils").ResponsesAPIRequestUtils
    videos = importlib.import_module("litellm.types.videos.utils")
    decoders: list[tuple[str, Callable[[str], Mapping[str, Any]]]] = [
        ("resp_", responses.decode_responses_api_response_id),
        ("cntr_", responses.decode_container_id),
        ("video_", videos.decode_video_id_with_provider),
        ("character_", videos.decode_character_id_with_provider),
    ]
    if value.startswith("resp_"):  # ResponsesIDSecurity: resp_ + encrypt(litellm_proxy:...;user_id:..;team_id:..)
        crypto = importlib.import_module("litellm.proxy.common_utils.encrypt_decrypt_utils")
        plain = crypto.decrypt_value_helper(value[len("resp_") :], "response_id", "debug", False)
        if isinstance(plain, str) and plain.startswith("litellm_proxy:"):
            inner = _decoded_parts(plain.split(";")[0].split("response_id:")[-1])
            return ObjectRef(True, inner.model_names, inner.model_ids)
    for prefix, decode in decoders:
        if value.startswith(prefix):
            decoded = decode(value)
            if decoded.get("model_id") or decoded.get("custom_llm_provider"):
                encoded = True
                ids += [str(decoded[k]) for k in ("model_id", "deployment_id") if decoded.get(k)]
                names += [str(decoded[k]) for k in ("served_model", "requested_model") if decoded.get(k)]
    return ObjectRef(encoded, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(ids)))


def _mentions_litellm(value: str) -> bool:
    """Any base64 form of the id (after a ``xxx_``/``xxx-`` prefix) that reads as LiteLLM's."""
    candidates = {value}
    for sep in ("_", "-"):
        _head, found, tail = value.partition(sep)
        if found and tail:
            candidates.add(tail)
    for candidate in candidates:
        padded = candidate + "=" * (-len(candidate) % 4)
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                text = decode(padded.encode()).decode("utf-8", "ignore")
            except (ValueError, binascii.Error):
                continue
            if "litellm" in text:
                return True
    return False


def decode_object_id(value: str) -> ObjectRef:
    """The deployments LiteLLM encoded into ``value`` (file, batch, response, container, video ids).

    An id that reads as one of LiteLLM's encodings but that no known decoder attributes is
    returned as ``encoded`` with no deployment: callers refuse it rather than guess.
    """
    if not value or len(value) > 4096:
        return ObjectRef(encoded=bool(value))
    try:
        found = _decoded_parts(value)
    except (ValueError, TypeError, UnicodeDecodeError):
        found = ObjectRef(encoded=True)
    if not found.encoded and _mentions_litellm(value):
        return ObjectRef(encoded=True)
    return found


def vector_store_registered(vector_store_id: str) -> bool:
    """Whether LiteLLM's process-wide registry knows the store (of whichever account)."""
    registry = importlib.import_module("litellm").vector_store_registry
    if registry is None:
        return False
    return registry.get_litellm_managed_vector_store_from_registry(vector_store_id) is not None


def is_proxy_exception(error: BaseException) -> bool:
    return isinstance(error, importlib.import_module("litellm.proxy._types").ProxyException)


def proxy_exception_body(error: Exception) -> tuple[int, dict[str, Any]]:
    """Status and body LiteLLM's endpoints answer a ``ProxyException`` with ({"error": {...}})."""
    body: dict[str, Any] = error.to_dict()  # type: ignore[attr-defined]
    return int(getattr(error, "code", 500)), {"error": body}


def request_models() -> dict[str, type[Any]]:
    """LiteLLM's request models of the id-taking management routes, by class name."""
    return {name: getattr(importlib.import_module(module), name) for module, name in _REQUEST_MODELS}


def proxy_error_body(message: str, *, status: int, error_type: str, param: str | None) -> dict[str, Any]:
    """The JSON body LiteLLM's exception handler sends for a ``ProxyException`` (``{"error": {...}}``)."""
    error = proxy_exception(message, status=status, error_type=error_type, param=param, code=str(status))
    return {"error": error.to_dict()}  # type: ignore[attr-defined]


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


# -- End users (customers) --------------------------------------------------------------------


def end_user_id_of(body: Mapping[str, object], headers: Mapping[str, str]) -> str | None:
    """The end-user id LiteLLM's auth would read from this request (headers first, then body fields)."""
    reader = importlib.import_module("litellm.proxy.auth.auth_utils").get_end_user_id_from_request_body
    found: str | None = reader(body, headers)
    return found


def end_user_header_names() -> frozenset[str]:
    """Lower-case names of every header LiteLLM takes an end-user id from: the standard customer
    headers plus those the operator configured (``user_header_mappings``, ``user_header_name``)."""
    auth_utils = importlib.import_module("litellm.proxy.auth.auth_utils")
    names = {str(h).lower() for h in importlib.import_module("litellm.constants").STANDARD_CUSTOMER_ID_HEADERS}
    settings = _proxy_server().general_settings or {}
    mapped = auth_utils.get_customer_user_header_from_mapping(settings.get("user_header_mappings"))
    names.update(str(h).lower() for h in mapped or ())
    legacy = settings.get("user_header_name")
    if isinstance(legacy, str) and legacy.strip():
        names.add(legacy.strip().lower())
    return frozenset(names)
