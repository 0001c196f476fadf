"""Tenant-supplied configuration may not point at the gateway's own secrets, files or services.

LiteLLM dereferences some configuration values on the server: ``os.environ/NAME`` (every
string of a deployment's ``litellm_params``, credential values, callback variables),
``oidc/...`` and secret-manager pointers (``get_secret``), file paths (service-account
JSON, identity token files, CA bundles), and it calls URLs other than the deployment's own
endpoint (token exchange, STS, issuer, callback hosts) with credentials of its own. A
tenant who can write such a value reads the operator's secrets (the proven attack: a
model whose ``api_key`` is ``os.environ/LITELLM_MASTER_KEY`` and whose ``api_base`` the
tenant controls).

This module is the one check: every tenant-written configuration value is walked (any
nesting) and refused with a 400 that names the field path. ``litellm_params`` (and
credential values, merged into them at call time) use an ALLOW-list derived from
LiteLLM's own ``LiteLLM_Params`` model minus the fields classified as dangerous below, so
a field nobody classified is refused.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from extensions import litellm
from extensions.errors import RequestError

__all__ = [
    "CONTENT_ROUTES",
    "ConfigValueRefused",
    "allowed_litellm_params",
    "check_credential_values",
    "check_litellm_params",
    "check_management_body",
    "check_references",
    "checks_management_body",
    "is_reference",
    "refused_litellm_params",
]

_MAX_PATH = 120  # the field path is echoed: bounded, never the value


class ConfigValueRefused(RequestError):
    code = "config_value_refused"
    status = 400


def _refuse(path: str, why: str, hint: str) -> ConfigValueRefused:
    shown = path if len(path) <= _MAX_PATH else path[: _MAX_PATH - 3] + "..."
    return ConfigValueRefused(f"{shown}: {why}", hint=hint, field=shown)


# --- reference forms -------------------------------------------------------------------

# LiteLLM looks for ``os.environ/`` anywhere in callback values (initialize_dynamic_callback_params),
# so it is refused anywhere in a string; the other prefixes are refused at the start.
_ANYWHERE = ("os.environ/",)
# Beyond LiteLLM's tables: a Windows-style separator and ``file:`` URLs (read by some loaders).
_EXTRA_PREFIXES = ("os.environ\\", "file:")


def _normalised(value: str) -> str:
    """The form LiteLLM might see after any decoding: URL-decoded (repeatedly), NFKC, no
    whitespace or control characters, lower case."""
    text = value
    for _ in range(4):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if ch.isprintable() and not ch.isspace()).lower()


def is_reference(value: str) -> bool:
    """True if LiteLLM (or a loader it calls) could read ``value`` as a server-side reference."""
    text = _normalised(value)
    if any(marker in text for marker in _ANYWHERE):
        return True
    return text.startswith((*litellm.secret_reference_prefixes(), *_EXTRA_PREFIXES))


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, string) for every string in ``value``, dictionary keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key)
            yield from _walk(item, child)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def check_references(value: Any, path: str) -> None:
    """Refuse any environment / secret-manager / OIDC reference anywhere in ``value``."""
    for where, text in _walk(value, path):
        if is_reference(text):
            raise _refuse(
                where,
                "server-side references (os.environ/, oidc/, secret managers) are not accepted",
                "send the value itself; the gateway never reads its own environment or secret stores for an account",
            )


# --- litellm_params: allow-list --------------------------------------------------------

# Declared by LiteLLM_Params but refused for accounts, by reason. Everything declared and not
# listed here is allowed; anything LiteLLM does not declare is refused unless in _EXTRA_ALLOWED.
_REFUSED_REASONS: dict[str, str] = {
    # Endpoints other than the deployment's own, called with the gateway's or the tenant's credentials.
    "base_url": "use api_base (the one endpoint field, checked against the egress policy)",
    "aws_sts_endpoint": "the gateway calls this STS endpoint",
    "aws_bedrock_runtime_endpoint": "use api_base",
    "s3_endpoint_url": "the gateway calls this storage endpoint",
    "token_exchange_endpoint": "the gateway calls this token endpoint",
    "valkey_host": "the gateway connects to this host",
    "valkey_port": "the gateway connects to this host",
    "valkey_password": "vector store backends are operator configuration",
    # Server identity: ambient cloud roles, profiles and web identities of the gateway host.
    "aws_profile_name": "names a profile of the gateway host",
    "aws_role_name": "assumes a role with the gateway's own AWS identity",
    "aws_session_name": "role sessions use the gateway's own AWS identity",
    "aws_web_identity_token": "web identity tokens are the gateway's",
    "aws_external_id": "role assumption uses the gateway's own AWS identity",
    "aws_session_tags": "role assumption uses the gateway's own AWS identity",
    "aws_batch_role_arn": "batch roles are assumed with the gateway's identity",
    # Storage the gateway writes with its own cloud credentials.
    "bucket_name": "storage is written with the gateway's credentials",
    "gcs_bucket_name": "storage is written with the gateway's credentials",
    "s3_bucket_name": "storage is written with the gateway's credentials",
    "s3_region_name": "storage is written with the gateway's credentials",
    "s3_access_key_id": "storage is written with the gateway's credentials",
    "s3_secret_access_key": "storage is written with the gateway's credentials",
    "s3_encryption_key_id": "storage is written with the gateway's credentials",
    "s3_bucket_owner": "storage is written with the gateway's credentials",
    "s3_output_bucket_name": "storage is written with the gateway's credentials",
    # Routing and proxying through other deployments or the gateway itself.
    "configurable_clientside_auth_params": "would let clients send their own endpoint and credentials",
    "use_in_pass_through": "pass-through routes would use this deployment for every caller",
    "use_litellm_proxy": "routes through the gateway's own LITELLM_PROXY_* settings",
    "use_xai_oauth": "uses the gateway's own OAuth session",
    "auto_router_config_path": "a file path on the gateway",
    "auto_router_config": "router configurations are operator configuration",
    "auto_router_default_model": "router configurations are operator configuration",
    "auto_router_embedding_model": "router configurations are operator configuration",
    "auto_router_max_input_chars": "router configurations are operator configuration",
    "auto_router_routing_compression": "router configurations are operator configuration",
    "auto_router_model_compression": "router configurations are operator configuration",
    "complexity_router_config": "router configurations are operator configuration",
    "complexity_router_default_model": "router configurations are operator configuration",
    "adaptive_router_config": "router configurations are operator configuration",
    "adaptive_router_default_model": "router configurations are operator configuration",
    "quality_router_config": "router configurations are operator configuration",
    "quality_router_default_model": "router configurations are operator configuration",
    "vector_store_id": "vector stores are operator configuration",
    "milvus_text_field": "vector stores are operator configuration",
    "milvus_db_name": "vector stores are operator configuration",
    "milvus_partition_names": "vector stores are operator configuration",
    "valkey_ssl": "vector stores are operator configuration",
    "valkey_text_field": "vector stores are operator configuration",
    "valkey_embedding_field": "vector stores are operator configuration",
    "litellm_trace_id": "set by the gateway",
}
# Workload identity federation: LiteLLM itself treats these as server-owned (token files,
# issuer/keycloak URLs, signing key pointers).
_REFUSED_PREFIXES = ("anthropic_", "openai_identity_", "openai_service_account", "token_exchange_")

# Not declared by LiteLLM_Params (it accepts extras and passes them to the provider call):
# request defaults that carry no address, path or reference.
_EXTRA_ALLOWED = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "n",
        "reasoning_effort",
        "extra_headers",
        "extra_body",
    }
)


def refused_litellm_params() -> frozenset[str]:
    declared = litellm.declared_litellm_params()
    by_prefix = {name for name in declared if name.startswith(_REFUSED_PREFIXES)}
    return frozenset(set(_REFUSED_REASONS) | by_prefix)


def allowed_litellm_params() -> frozenset[str]:
    return (litellm.declared_litellm_params() | _EXTRA_ALLOWED) - refused_litellm_params()


# Service-account JSON keys google-auth reads without calling anything but token_uri.
_SERVICE_ACCOUNT_KEYS = frozenset(
    {
        "type",
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "client_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_x509_cert_url",
        "universe_domain",
    }
)
_GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


def _check_vertex_credentials(value: Any, path: str) -> None:
    """Inline service-account JSON only: a string that is not JSON is read as a file path, and
    other credential types (external_account, impersonation) name files, URLs or commands."""
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise _refuse(path, "must be the service account JSON itself", "paste the key file's content") from None
    if not isinstance(parsed, dict) or parsed.get("type") != "service_account":
        raise _refuse(path, "only service_account credentials are accepted", "paste a service account key file")
    for key in parsed:
        if key not in _SERVICE_ACCOUNT_KEYS:
            raise _refuse(f"{path}.{key}", "is not a service account key field", "remove it")
    if parsed.get("token_uri", _GOOGLE_TOKEN_URI) != _GOOGLE_TOKEN_URI:
        raise _refuse(f"{path}.token_uri", "must be Google's token endpoint", f"use {_GOOGLE_TOKEN_URI}")


def check_litellm_params(params: Mapping[str, Any], path: str = "litellm_params") -> None:
    """Default deny over a deployment's (or credential's) provider parameters."""
    allowed = allowed_litellm_params()
    for key, value in params.items():
        where = f"{path}.{key}"
        if key not in allowed:
            reason = _REFUSED_REASONS.get(str(key), "is not a field an account may set")
            raise _refuse(where, reason, "remove the field; ask the operator if your provider needs it")
        if key == "vertex_credentials" and value not in (None, ""):
            _check_vertex_credentials(value, where)
        check_references(value, where)
        if key == "mock_response" and not isinstance(value, str | type(None)):
            raise _refuse(where, "must be a string", "send the text the model should answer")


def check_credential_values(values: Any, path: str = "credential_values") -> None:
    """Credential values are merged into litellm_params at call time: same allow-list."""
    if values is None:
        return
    if not isinstance(values, Mapping):
        raise _refuse(path, "must be an object", 'e.g. {"api_key": "sk-..."}')
    check_litellm_params(values, path)


# --- management bodies (keys, teams, users, customers, ...) ----------------------------

# Metadata keys LiteLLM turns into logging callbacks (get_dynamic_logging_metadata): the
# gateway would export traffic with callback variables and hosts chosen by the tenant.
_CALLBACK_KEYS = frozenset(
    {"logging", "callback_settings", "callbacks", "success_callback", "failure_callback", "callback_vars"}
)
# Only ever reduces what is logged: a privacy switch keys and teams may carry.
_HARMLESS_CALLBACK_PARAMS = frozenset({"turn_off_message_logging"})
# Never dereferenced by LiteLLM and free text by nature: a password may look like anything.
_OPAQUE_KEYS = frozenset({"password", "new_password", "old_password", "current_password"})


def _callback_settings(value: Any, path: str) -> Iterator[str]:
    names = (_CALLBACK_KEYS | set(litellm.dynamic_callback_params())) - _HARMLESS_CALLBACK_PARAMS
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if str(key) in names and item not in (None, "", [], {}):
                yield child
            yield from _callback_settings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _callback_settings(item, f"{path}[{index}]")


# Tenant routes whose bodies are content, not configuration LiteLLM acts on: a prompt or a
# memory may legitimately mention ``os.environ/``. Every other tenant write is checked.
CONTENT_ROUTES = frozenset(
    {
        "POST /v1/memory",
        "PUT /v1/memory/{key:path}",
        "POST /v1/workflows/runs",
        "PATCH /v1/workflows/runs/{run_id}",
        "POST /v1/workflows/runs/{run_id}/events",
        "POST /v1/workflows/runs/{run_id}/messages",
        "POST /compliance/eu-ai-act",
        "POST /compliance/gdpr",
        "POST /utils/dotprompt_json_converter",
    }
)
_WRITES = frozenset({"POST", "PUT", "PATCH"})


def checks_management_body(route_class: str | None, route: str) -> bool:
    """Whether a tenant request to ``route`` (``"METHOD /template"``) gets :func:`check_management_body`."""
    return route_class == "tenant" and route.split(" ", 1)[0] in _WRITES and route not in CONTENT_ROUTES


def check_management_body(body: Any) -> None:
    """A management write's body: no references anywhere, no logging callbacks anywhere."""
    if body is None:
        return
    for where in _callback_settings(body, ""):
        raise _refuse(
            where,
            "logging callbacks are operator configuration",
            "remove it; ask the operator to configure logging for your account",
        )
    check_references(_without_opaque(body), "")


def _without_opaque(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_opaque(v) for k, v in value.items() if str(k) not in _OPAQUE_KEYS}
    if isinstance(value, list):
        return [_without_opaque(v) for v in value]
    return value
