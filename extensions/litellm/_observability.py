"""LiteLLM's OpenTelemetry and Prometheus integrations, as Atrium's traces and metrics use them.

Traces: with the ``otel`` callback configured, LiteLLM's ``OpenTelemetry`` logger registers itself
as ``proxy_server.open_telemetry_logger``; its ``tracer`` (of the provider and exporter the
operator configured) starts the request's SERVER span ("Received Proxy Server Request") inside
``user_api_key_auth`` and hands it on as ``UserAPIKeyAuth.parent_otel_span`` (and
``request.state.parent_otel_span``). Atrium's own spans are started with that tracer, as
children of that span, so they go wherever LiteLLM's go; with no ``otel`` callback the logger is
``None`` and Atrium records nothing.

Metrics: ``litellm.custom_prometheus_metadata_labels`` names request-metadata fields that become
labels of LiteLLM's Prometheus series. ``get_custom_labels_from_metadata`` looks a name (minus a
leading ``metadata.``) up in the standard logging metadata, whose ``spend_logs_metadata`` dict is
merged last (so a value Atrium writes there wins over the caller's ``requester_metadata`` and the
key's metadata); the label is the name with dots made underscores (``sanitize_prometheus_label_name``).
``spend_logs_metadata`` is also the request-metadata field LiteLLM copies into
``LiteLLM_SpendLogs.metadata``. The exposition LiteLLM mounts at ``/metrics`` is read from
``prometheus_client.REGISTRY``, or from a ``MultiProcessCollector`` when ``PROMETHEUS_MULTIPROC_DIR``
is set (``PrometheusLogger._mount_metrics_endpoint``); Atrium's ``/atrium/metrics`` reads the same.
"""

from __future__ import annotations

import importlib
from typing import Any, Final

from extensions.litellm._base import Internal, proxy_server

__all__ = [
    "ACCOUNT_METADATA_FIELD",
    "INTERNALS",
    "PROMETHEUS_ACCOUNT_LABEL",
    "PROMETHEUS_LABEL_SETTING",
    "SPEND_LOGS_METADATA",
    "key_identity",
    "prometheus_label_name",
    "proxy_tracer",
    "request_span",
    "request_span_of_scope",
]

_OTEL: Final = "litellm.integrations.opentelemetry"
_PROMETHEUS: Final = "litellm.integrations.prometheus"
_LABEL_TYPES: Final = "litellm.types.integrations.prometheus"
# The request-metadata field LiteLLM copies into LiteLLM_SpendLogs.metadata (a dict of the caller's).
SPEND_LOGS_METADATA: Final = "spend_logs_metadata"
# The field of spend_logs_metadata Atrium writes the account into, and LiteLLM's setting naming it.
ACCOUNT_METADATA_FIELD: Final = "atrium_account_id"
PROMETHEUS_LABEL_SETTING: Final = f"metadata.{ACCOUNT_METADATA_FIELD}"
# What LiteLLM makes of that setting as a label name (checked against its sanitizer in the contract test).
PROMETHEUS_ACCOUNT_LABEL: Final = "metadata_atrium_account_id"

INTERNALS: tuple[Internal, ...] = (
    Internal("litellm.proxy.proxy_server", "open_telemetry_logger"),
    # Starts the SERVER span and keeps it as request.state.parent_otel_span.
    Internal("litellm.proxy.auth.user_api_key_auth", "_ensure_parent_otel_span_on_request_state", ("request",)),
    Internal(
        "litellm.integrations.opentelemetry",
        "OpenTelemetry.create_litellm_proxy_request_started_span",
        ("self", "start_time", "headers"),
    ),
    Internal(
        "litellm.integrations.opentelemetry", "LITELLM_PROXY_REQUEST_SPAN_NAME", value="Received Proxy Server Request"
    ),
    Internal("litellm", "custom_prometheus_metadata_labels"),
    Internal(_PROMETHEUS, "get_custom_labels_from_metadata", ("metadata",)),
    Internal(_PROMETHEUS, "_get_combined_custom_metadata_from_standard_logging_payload", ("standard_logging_payload",)),
    Internal(_PROMETHEUS, "PrometheusLogger._mount_metrics_endpoint", ()),
    Internal(_LABEL_TYPES, "sanitize_prometheus_label_name", ("label",)),
    Internal("litellm.proxy._types", "SpendLogsMetadata"),
    Internal("litellm.proxy._types", "UserAPIKeyAuth"),  # parent_otel_span, team_id, key_alias: contract test
)


def proxy_tracer() -> Any | None:
    """The tracer of LiteLLM's ``otel`` callback, or None when the operator did not enable it."""
    logger = getattr(proxy_server(), "open_telemetry_logger", None)
    return getattr(logger, "tracer", None) if logger is not None else None


def request_span(user_api_key_dict: Any) -> Any | None:
    """The request's SERVER span LiteLLM's auth started (None without the ``otel`` callback)."""
    return getattr(user_api_key_dict, "parent_otel_span", None)


def request_span_of_scope(scope: Any) -> Any | None:
    """The same span, from ``request.state`` (routes without a pre-call hook)."""
    state = scope.get("state") if isinstance(scope, dict) else None
    return state.get("parent_otel_span") if isinstance(state, dict) else None


def key_identity(user_api_key_dict: Any) -> tuple[str | None, str | None]:
    """The team id and key alias of LiteLLM's auth result (``UserAPIKeyAuth``)."""
    return getattr(user_api_key_dict, "team_id", None), getattr(user_api_key_dict, "key_alias", None)


def prometheus_label_name(setting: str) -> str:
    """The label LiteLLM gives a ``custom_prometheus_metadata_labels`` entry."""
    name: str = importlib.import_module(_LABEL_TYPES).sanitize_prometheus_label_name(setting)
    return name
