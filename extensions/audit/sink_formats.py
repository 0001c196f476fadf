"""What a sink receives: a batch of entries as OTLP logs (JSON encoding), a JSON array, or NDJSON bulk.

Each record carries the entry as ``GET /atrium/audit`` shows it (``reader.public``: account_id,
seq, hash, prev_hash, actor, action, object, outcome, request_id, time, ...). Entries are already
redacted when they are written, so nothing here can leak a secret the log does not hold.

OTLP is encoded as OTLP/JSON (the protobuf JSON mapping the OTLP/HTTP spec defines: lowerCamelCase
names, 64-bit integers as strings): the protobuf encoding would need ``opentelemetry-proto`` and
``protobuf``, which Atrium does not install; collectors (OpenTelemetry Collector, OpenObserve,
Grafana Alloy, ...) accept both on ``/v1/logs``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from extensions.audit.reader import public
from extensions.audit.sink_config import SinkTarget

__all__ = ["Encoded", "answer_problem", "encode", "otlp_attributes", "record"]

SCOPE: Final = "atrium.audit"
# Flat attributes of an OTLP record (the queryable part); the whole entry is the record's body.
_STRING_ATTRIBUTES: Final = (
    "id",
    "account_id",
    "time",
    "hash",
    "prev_hash",
    "request_id",
    "actor_kind",
    "actor_id",
    "source_ip",
    "user_agent",
    "method",
    "route",
    "action",
    "object_type",
    "outcome",
)
_ACTOR_ATTRIBUTES: Final = ("user_id", "email", "role", "key_alias", "key_hash_prefix", "acting_as")
Encoded = tuple[bytes, str]  # body, content type


def record(row: Any) -> dict[str, Any]:
    """One entry as every sink carries it."""
    return public(row)


def _time_ns(entry: dict[str, Any]) -> int:
    moment = datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a string in OTLP/JSON
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(v) for v in value]}}
    return {"stringValue": str(value)}


def otlp_attributes(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The entry's fields as ``audit.*`` attributes (absent ones left out)."""
    actor = entry.get("actor") or {}
    pairs: list[tuple[str, Any]] = [(name, entry.get(name)) for name in _STRING_ATTRIBUTES]
    pairs += [
        ("seq", int(entry["seq"])),
        ("status_code", int(entry["status_code"])),
        ("object_ids", [str(i) for i in entry["object_ids"]]),
        ("changes", json.dumps(entry["changes"], sort_keys=True, ensure_ascii=False)),
    ]
    pairs += [(f"actor.{name}", actor.get(name)) for name in _ACTOR_ATTRIBUTES]
    return [{"key": f"audit.{name}", "value": _value(value)} for name, value in pairs if value is not None]


def _otlp(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    records = []
    for entry in entries:
        failed = entry["outcome"] == "failed"
        records.append(
            {
                "timeUnixNano": str(_time_ns(entry)),
                "severityNumber": 13 if failed else 9,  # WARN / INFO
                "severityText": "WARN" if failed else "INFO",
                "body": {"stringValue": json.dumps(entry, sort_keys=True, ensure_ascii=False)},
                "attributes": otlp_attributes(entry),
            }
        )
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "atrium"}}]}
    return {"resourceLogs": [{"resource": resource, "scopeLogs": [{"scope": {"name": SCOPE}, "logRecords": records}]}]}


def _json_document(entry: dict[str, Any]) -> dict[str, Any]:
    # OpenObserve takes the event time from _timestamp (microseconds), Elasticsearch from @timestamp.
    micros = _time_ns(entry) // 1000
    return {**entry, "_timestamp": micros, "@timestamp": entry["time"]}


def encode(target: SinkTarget, entries: Sequence[dict[str, Any]]) -> Encoded:
    if target.encoding == "otlp":
        return json.dumps(_otlp(entries), ensure_ascii=False).encode(), "application/json"
    if target.encoding == "bulk":
        lines: list[str] = []
        for entry in entries:
            # The entry id as the document id: a batch sent twice (at-least-once) overwrites itself.
            action: dict[str, Any] = {"_id": entry["id"]}
            if target.index:
                action["_index"] = target.index
            lines += [json.dumps({"index": action}), json.dumps(_json_document(entry), ensure_ascii=False)]
        return ("\n".join(lines) + "\n").encode(), "application/x-ndjson"
    return json.dumps([_json_document(e) for e in entries], ensure_ascii=False).encode(), "application/json"


def answer_problem(target: SinkTarget, body: bytes) -> tuple[str, bool] | None:
    """What a 2xx answer says went wrong, if anything, and whether resending the batch can help.

    OTLP partial success is final by the spec (resending gets the same rejection), and so is an
    OpenObserve record that failed its stream's schema: both are logged and passed. A bulk answer
    with errors is resent: documents carry their entry id, so the resend overwrites, never doubles.
    """
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    if target.encoding == "otlp":
        partial = answer.get("partialSuccess") or {}
        count = int(partial.get("rejectedLogRecords") or 0)
        return (f"{count} log records rejected", False) if count else None
    if target.encoding == "bulk":
        return ("the bulk answer has errors", True) if answer.get("errors") else None
    failed = sum(int(s.get("failed") or 0) for s in answer.get("status") or [] if isinstance(s, dict))
    return (f"{failed} records failed", False) if failed else None
