"""The request id and the account in LiteLLM's request metadata: spend logs and Prometheus labels.

LiteLLM copies the request-metadata field ``spend_logs_metadata`` into ``LiteLLM_SpendLogs.metadata``
and merges it last into the metadata its Prometheus labels are read from
(``extensions/litellm/_observability.py``). Atrium's pre-call hook writes two fields there:

- ``atrium_request_id``: the request's ``x-request-id``, so a spend-log row is found from a
  client's or gateway log line. It is *not* LiteLLM's call id (the spend log's primary key): a
  caller may send the same id twice.
- ``atrium_account_id``: the account, the ``metadata_atrium_account_id`` label of LiteLLM's series
  ``/atrium/metrics`` filters by. Always Atrium's value: a caller's or a key's own
  ``atrium_account_id`` is overwritten (with ``""`` for principals of no account: LiteLLM merges
  this dict last, so a value in the body's or the key's metadata never becomes the label), so
  nobody puts their traffic in another account's series.
"""

from __future__ import annotations

from typing import Any

from extensions import litellm

__all__ = ["REQUEST_ID_FIELD", "stamp"]

REQUEST_ID_FIELD = "atrium_request_id"
_SLOTS = ("metadata", "litellm_metadata")  # LiteLLM's name for the request's metadata varies by route


def stamp(data: dict[str, Any], request_id: str | None, account_id: str | None) -> None:
    slots = [slot for slot in _SLOTS if isinstance(data.get(slot), dict)] or ["metadata"]
    for slot in slots:
        metadata = data.setdefault(slot, {})
        existing = metadata.get(litellm.SPEND_LOGS_METADATA)
        # A copy: LiteLLM may have handed the key's or team's own dict on.
        values: dict[str, Any] = dict(existing) if isinstance(existing, dict) else {}
        values[REQUEST_ID_FIELD] = request_id or ""
        values[litellm.ACCOUNT_METADATA_FIELD] = account_id or ""
        metadata[litellm.SPEND_LOGS_METADATA] = values
