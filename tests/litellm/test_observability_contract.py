"""Contract: the metadata fields and span hand-over Atrium's traces and metrics rely on."""

from __future__ import annotations

import importlib

from extensions import config
from extensions import litellm as adapter


def test_the_account_label_is_what_litellm_makes_of_the_setting() -> None:
    assert config.PROMETHEUS_LABEL_SETTING == adapter.PROMETHEUS_LABEL_SETTING
    assert adapter.prometheus_label_name(adapter.PROMETHEUS_LABEL_SETTING) == adapter.PROMETHEUS_ACCOUNT_LABEL


def test_spend_logs_metadata_wins_the_label_over_the_callers_metadata() -> None:
    prometheus = importlib.import_module("litellm.integrations.prometheus")
    core = importlib.import_module("litellm")
    saved = list(core.custom_prometheus_metadata_labels)
    core.custom_prometheus_metadata_labels = [adapter.PROMETHEUS_LABEL_SETTING]
    try:
        payload = {
            "metadata": {
                adapter.ACCOUNT_METADATA_FIELD: "top",
                "requester_metadata": {adapter.ACCOUNT_METADATA_FIELD: "caller"},
                "user_api_key_auth_metadata": {adapter.ACCOUNT_METADATA_FIELD: "key"},
                adapter.SPEND_LOGS_METADATA: {adapter.ACCOUNT_METADATA_FIELD: "atrium"},
            }
        }
        combined = prometheus._get_combined_custom_metadata_from_standard_logging_payload(payload)
        labels = prometheus.get_custom_labels_from_metadata(combined)
    finally:
        core.custom_prometheus_metadata_labels = saved
    assert labels == {adapter.PROMETHEUS_ACCOUNT_LABEL: "atrium"}


def test_spend_logs_metadata_reaches_the_spend_log_row() -> None:
    types = importlib.import_module("litellm.proxy._types")
    assert adapter.SPEND_LOGS_METADATA in types.SpendLogsMetadata.__annotations__
    utils = importlib.import_module("litellm.proxy.spend_tracking.spend_tracking_utils")
    kept = utils._get_spend_logs_metadata({adapter.SPEND_LOGS_METADATA: {"atrium_request_id": "r1"}})
    assert kept[adapter.SPEND_LOGS_METADATA] == {"atrium_request_id": "r1"}


def test_auth_result_carries_the_request_span_team_and_alias() -> None:
    auth = importlib.import_module("litellm.proxy._types").UserAPIKeyAuth
    assert {"parent_otel_span", "team_id", "key_alias"} <= set(auth.model_fields)
    found = auth(team_id="t1", key_alias="k1")
    assert adapter.key_identity(found) == ("t1", "k1")
    assert adapter.request_span(found) is None
    assert adapter.proxy_tracer() is None  # no otel callback configured in this process
