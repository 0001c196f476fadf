"""LLM request bodies may not carry server-side references or gateway-side settings.

LiteLLM reads per-request logging settings from the body and its metadata (dynamic
callback params such as ``langfuse_secret_key``/``langfuse_host``, ``logging``, callback
lists) and provider parameters (``aws_role_name``, ``vertex_credentials``, ...) from the
top level. A tenant request must not name the gateway's environment or secret stores in
them, make the gateway export traffic to an address of the tenant's choosing, or borrow
the gateway's cloud identity. Refused in LiteLLM's error shape (400), naming the field.
Message content is never inspected: a prompt may mention ``os.environ/``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from extensions import litellm
from extensions.tenancy.policy.config_values import ConfigValueRefused, check_references, refused_litellm_params
from extensions.tenancy.request.context import data_scope

__all__ = ["check_request_references"]

# Where LiteLLM looks for request-supplied callback settings besides the top level.
_METADATA_SLOTS = ("metadata", "litellm_metadata")
_CALLBACK_LISTS = frozenset(
    {"logging", "callback_settings", "callbacks", "success_callback", "failure_callback", "callback_vars"}
)
_ADDRESS_MARKERS = ("host", "url", "endpoint", "site", "webhook")
_CLIENT_MAY_SEND = frozenset({"litellm_trace_id"})  # LiteLLM documents it as a client field


def _refused(field: str, why: str) -> Exception:
    return litellm.proxy_exception(
        f"`{field}` {why}. Remove it; logging and provider identity are configured by the operator.",
        status=400,
        error_type="invalid_request_error",
        param=field[:120],
        code="unsupported_parameter",
    )


def _scopes(data: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield "", data
    for slot in _METADATA_SLOTS:
        nested = data.get(slot)
        if isinstance(nested, Mapping):
            yield f"{slot}.", nested
    params = data.get("litellm_params")
    if isinstance(params, Mapping):
        yield "litellm_params.", params
        if isinstance(params.get("metadata"), Mapping):
            yield "litellm_params.metadata.", params["metadata"]


def check_request_references(data: Mapping[str, Any]) -> None:
    if not data_scope().restricted:
        return  # the gateway's own calls and the super admin
    callback_params = set(litellm.dynamic_callback_params())
    provider_params = litellm.declared_litellm_params()
    server_side = refused_litellm_params() - _CLIENT_MAY_SEND
    for prefix, scope in _scopes(data):
        for key, value in scope.items():
            name = str(key)
            if value in (None, "", [], {}):
                continue
            field = f"{prefix}{name}"
            if name in _CALLBACK_LISTS:
                raise _refused(field, "sets logging callbacks")
            if name in callback_params and any(marker in name for marker in _ADDRESS_MARKERS):
                raise _refused(field, "sets an address the gateway would send logs to")
            if name in server_side:
                raise _refused(field, "is a gateway-side setting")
            if name in callback_params or name in provider_params:
                try:
                    check_references(value, field)
                except ConfigValueRefused as exc:
                    raise _refused(str(exc.details.get("field", field)), "holds a server-side reference") from exc
