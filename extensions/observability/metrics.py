"""``/atrium/metrics``: LiteLLM's Prometheus series, one account's or all of them.

LiteLLM's ``prometheus`` callback labels its series with ``metadata_atrium_account_id`` (Atrium sets
``litellm_settings.custom_prometheus_metadata_labels``, ``extensions/config.py``, and writes the value
in its pre-call hook, ``spend_metadata.py``). The exposition is read from the registry LiteLLM's own
``/metrics`` reads (``prometheus_client.REGISTRY``, or every worker's files with
``PROMETHEUS_MULTIPROC_DIR``), then filtered sample by sample: an account sees only samples whose
label is its account id; a sample without the label (process metrics, LiteLLM's deployment and
budget series, requests of no account) is never shown to a tenant. The super admin sees everything,
or one account's with ``account_id``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from extensions import litellm
from extensions.errors import AtriumError

__all__ = ["MetricsUnavailable", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsUnavailable(AtriumError):
    code = "metrics_unavailable"
    status = 503


class _Fixed:
    """A collector that yields metric families already collected (and filtered)."""

    def __init__(self, families: list[Any]) -> None:
        self._families = families

    def collect(self) -> Iterator[Any]:
        yield from self._families

    def describe(self) -> list[Any]:
        return []  # unchecked registration: names may repeat across families of other registries


def _source() -> Any:
    try:
        from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
    except ImportError as exc:  # LiteLLM's prometheus callback needs it too
        raise MetricsUnavailable("prometheus_client is not installed", hint="pip install prometheus_client") from exc
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def _filtered(families: Iterable[Any], account_id: str) -> Iterator[Any]:
    from prometheus_client.metrics_core import Metric

    label = litellm.PROMETHEUS_ACCOUNT_LABEL
    for family in families:
        samples = [s for s in family.samples if s.labels.get(label) == account_id]
        if samples:
            copy = Metric(family.name, family.documentation, family.type, family.unit)
            copy.samples = samples
            yield copy


def exposition(account_id: str | None) -> bytes:
    """The Prometheus text of ``account_id``'s series (every series when None)."""
    from prometheus_client import CollectorRegistry, generate_latest

    families = list(_source().collect())
    if account_id is not None:
        families = list(_filtered(families, account_id))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))  # type: ignore[arg-type]
    text: bytes = generate_latest(registry)
    return text
