"""Daily rows into LiteLLM's ``SpendAnalyticsPaginatedResponse`` shape, which the UI parses.

Ports of ``common_daily_activity.py`` (1.108.7): ``_aggregate_grouping_sets_records_sync`` and
``_fold_entity_rollups_sync`` for the aggregated routes, ``update_metrics`` /
``update_breakdown_metrics`` for the paginated team route. Field names, nesting and defaults are
LiteLLM's (``types/proxy/management_endpoints/common_daily_activity.py``); PTU flat cost and
PTU-hours, an operator feature read from the shared router, stay 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from extensions import litellm
from extensions.routes.replacements.usage.lookups import KeyMeta

__all__ = [
    "METRICS",
    "aggregate_rows",
    "empty_metadata",
    "fold_entities",
    "fold_grouping_sets",
    "key_label",
    "metadata_of",
]

_FLOATS = (
    "spend",
    "flat_cost",
    "ptu_hours",
    "compression_savings_spend",
    "prompt_caching_savings_spend",
    "gateway_injected_caching_savings_spend",
    "autorouter_savings_spend",
)
# SpendMetrics, in LiteLLM's field order.
METRICS = (
    "spend",
    "flat_cost",
    "ptu_hours",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "compression_saved_tokens",
    "compression_savings_spend",
    "prompt_caching_savings_spend",
    "gateway_injected_caching_savings_spend",
    "autorouter_savings_spend",
    "total_tokens",
    "successful_requests",
    "failed_requests",
    "api_requests",
    "total_response_time_ms",
    "timed_requests",
)
# Columns a row carries; the rest (flat_cost, ptu_hours, total_tokens) are derived.
_SUMMED = tuple(m for m in METRICS if m not in ("flat_cost", "ptu_hours", "total_tokens"))

# GROUPING() bitmask of the aggregated statement: date, api_key, model, model_group,
# custom_llm_provider, mcp_namespaced_tool_name, endpoint (rightmost = least significant bit).
_GRAND_TOTAL = 127
_DATE = 63
_DATE_API_KEY = 31
_DATE_MODEL = 47
_DATE_MODEL_API_KEY = 15
_DATE_MODEL_GROUP = 55
_DATE_MODEL_GROUP_API_KEY = 23
_DATE_PROVIDER = 59
_DATE_PROVIDER_API_KEY = 27
_DATE_MCP = 61
_DATE_MCP_API_KEY = 29
_DATE_ENDPOINT = 62
_DATE_ENDPOINT_API_KEY = 30

Labels = Mapping[str, KeyMeta]
Row = Mapping[str, Any]


def _zero() -> dict[str, Any]:
    return {name: 0.0 if name in _FLOATS else 0 for name in METRICS}


def _metrics(row: Row) -> dict[str, Any]:
    """A rollup row's metrics (SUM over no rows is NULL: 0)."""
    out = _zero()
    for name in _SUMMED:
        value = row.get(name) or 0
        out[name] = float(value) if name in _FLOATS else int(value)
    out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    return out


def _add(target: dict[str, Any], row: Row) -> None:
    """LiteLLM's ``update_metrics``: one raw row added to a running total."""
    for name in _SUMMED:
        value = row.get(name) or 0
        target[name] += float(value) if name in _FLOATS else int(value)
    target["total_tokens"] += int(row.get("prompt_tokens") or 0) + int(row.get("completion_tokens") or 0)


def key_label(labels: Labels, api_key: str, *, missing_exists: bool | None = False) -> dict[str, Any]:
    """``KeyMetadata``; a key the lookup did not find is ``key_exists=missing_exists`` (False in
    the breakdowns, None on the key pages: LiteLLM's two helpers differ there)."""
    found = labels.get(api_key)
    if found is None:
        return KeyMeta().as_dict() | {"key_exists": missing_exists}
    return found.as_dict()


def _bucket(metrics: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metrics": metrics or _zero(), "metadata": metadata or {}, "api_key_breakdown": {}}


def _breakdown() -> dict[str, dict[str, Any]]:
    return {
        "mcp_servers": {},
        "models": {},
        "model_groups": {},
        "providers": {},
        "endpoints": {},
        "api_keys": {},
        "entities": {},
    }


def _day(date: str) -> dict[str, Any]:
    return {"date": date, "metrics": _zero(), "breakdown": _breakdown()}


def fold_grouping_sets(rows: Iterable[Row], labels: Labels) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(days newest first, totals) from the aggregated statement's rows."""
    days: dict[str, dict[str, Any]] = {}
    totals = _zero()

    def day(date: str) -> dict[str, Any]:
        return days.setdefault(date, _day(date))

    def assign(target: dict[str, Any], key: str, metrics: dict[str, Any]) -> None:
        target.setdefault(key, _bucket())["metrics"] = metrics

    def assign_key(target: dict[str, Any], parent: str, api_key: str, metrics: dict[str, Any]) -> None:
        target.setdefault(parent, _bucket())["api_key_breakdown"][api_key] = {
            "metrics": metrics,
            "metadata": key_label(labels, api_key),
        }

    for row in rows:
        level, metrics = row["group_level"], _metrics(row)
        api_key: str = row.get("api_key") or ""
        real_key = bool(api_key) and api_key != litellm.PTU_SENTINEL_API_KEY
        if level == _GRAND_TOTAL:
            totals = metrics
            continue
        if level == _DATE:
            day(row["date"])["metrics"] = metrics
            continue
        breakdown = day(row["date"])["breakdown"]
        model, group, mcp, endpoint = row["model"], row["model_group"], row["mcp_namespaced_tool_name"], row["endpoint"]
        provider = row["custom_llm_provider"] or "unknown"
        if level == _DATE_API_KEY and real_key:
            breakdown["api_keys"][api_key] = {"metrics": metrics, "metadata": key_label(labels, api_key)}
        elif level == _DATE_MODEL and model:
            assign(breakdown["models"], model, metrics)
        elif level == _DATE_MODEL_API_KEY and model and real_key:
            assign_key(breakdown["models"], model, api_key, metrics)
        elif level == _DATE_MODEL_GROUP and group:
            assign(breakdown["model_groups"], group, metrics)
        elif level == _DATE_MODEL_GROUP_API_KEY and group and real_key:
            assign_key(breakdown["model_groups"], group, api_key, metrics)
        elif level == _DATE_PROVIDER:
            assign(breakdown["providers"], provider, metrics)
        elif level == _DATE_PROVIDER_API_KEY and real_key:
            assign_key(breakdown["providers"], provider, api_key, metrics)
        elif level == _DATE_MCP and mcp:
            assign(breakdown["mcp_servers"], mcp, metrics)
        elif level == _DATE_MCP_API_KEY and mcp and api_key:
            assign_key(breakdown["mcp_servers"], mcp, api_key, metrics)
        elif level == _DATE_ENDPOINT and endpoint:
            assign(breakdown["endpoints"], endpoint, metrics)
        elif level == _DATE_ENDPOINT_API_KEY and endpoint and api_key:
            assign_key(breakdown["endpoints"], endpoint, api_key, metrics)
    return sorted(days.values(), key=lambda d: d["date"], reverse=True), totals


def fold_entities(
    days: list[dict[str, Any]], rows: Iterable[Row], labels: Labels, entity_metadata: Mapping[str, Mapping[str, Any]]
) -> None:
    """``breakdown.entities`` of each day, from the entity rollup's rows."""
    by_date = {d["date"]: d for d in days}
    for row in rows:
        found = by_date.get(row["date"])
        if found is None:
            continue
        entity = row["entity_id"] or "Unassigned"
        entities = found["breakdown"]["entities"]
        bucket = entities.get(entity)
        if bucket is None:
            bucket = entities[entity] = _bucket(metadata=dict(entity_metadata.get(entity, {})))
        api_key = row.get("api_key")
        if row["api_key_rolled"]:
            bucket["metrics"] = _metrics(row)
        elif api_key and api_key != litellm.PTU_SENTINEL_API_KEY:
            bucket["api_key_breakdown"][api_key] = {"metrics": _metrics(row), "metadata": key_label(labels, api_key)}


def _add_to(target: dict[str, Any], key: str, row: Row, labels: Labels, *, keys: bool, metadata: Any = None) -> None:
    bucket = target.setdefault(key, _bucket(metadata=metadata))
    _add(bucket["metrics"], row)
    if keys:
        api_key = row["api_key"]
        entry = bucket["api_key_breakdown"].setdefault(
            api_key, {"metrics": _zero(), "metadata": key_label(labels, api_key)}
        )
        _add(entry["metrics"], row)


def aggregate_rows(
    rows: Iterable[Row], labels: Labels, entity_column: str, entity_metadata: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """LiteLLM's per-row aggregation (paginated routes): (days newest first, totals)."""
    days: dict[str, dict[str, Any]] = {}
    totals = _zero()
    for row in rows:
        found = days.setdefault(row["date"], _day(row["date"]))
        _add(found["metrics"], row)
        _add(totals, row)
        breakdown = found["breakdown"]
        sentinel = row["api_key"] == litellm.PTU_SENTINEL_API_KEY
        model_key = (row["model_group"] or row["model"]) if sentinel else row["model"]
        if model_key:
            _add_to(breakdown["models"], model_key, row, labels, keys=not sentinel)
        group = row["model_group"] or row["model"]
        if group:
            _add_to(breakdown["model_groups"], group, row, labels, keys=not sentinel)
        if row.get("mcp_namespaced_tool_name"):
            _add_to(breakdown["mcp_servers"], row["mcp_namespaced_tool_name"], row, labels, keys=True)
        if not sentinel:
            _add_to(breakdown["providers"], row["custom_llm_provider"] or "unknown", row, labels, keys=True)
        if row.get("endpoint"):
            _add_to(breakdown["endpoints"], row["endpoint"], row, labels, keys=True)
        if not sentinel:
            entry = breakdown["api_keys"].setdefault(
                row["api_key"], {"metrics": _zero(), "metadata": key_label(labels, row["api_key"])}
            )
            _add(entry["metrics"], row)
        entity = row.get(entity_column) or "Unassigned"
        _add_to(
            breakdown["entities"],
            entity,
            row,
            labels,
            keys=not sentinel,
            metadata=dict(entity_metadata.get(entity, {})),
        )
    return sorted(days.values(), key=lambda d: d["date"], reverse=True), totals


def empty_metadata() -> dict[str, Any]:
    return metadata_of(_zero(), page=1, total_pages=1, has_more=False)


def metadata_of(totals: Mapping[str, Any], **page: Any) -> dict[str, Any]:
    """``DailySpendMetadata``: every total, then the page fields and the key-limit fields."""
    out = {name if name.startswith("total_") else f"total_{name}": totals[name] for name in METRICS}
    out |= {"page": 1, "total_pages": 1, "has_more": False}
    out |= {"api_key_limit": None, "total_api_keys": None, "entity_total_api_keys": None}
    out |= page
    return out
