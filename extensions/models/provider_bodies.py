"""Read, and rewrite, the selector fields of an LLM request body inside the ASGI middleware.

Provider-object routes take ``model`` / ``target_model_names`` in a JSON body, a
multipart form (file uploads) or a url-encoded form. The middleware must read them before
LiteLLM does and may rewrite a public model name to the account's internal one, so the
body is buffered once and replayed to LiteLLM, re-encoded only when a field changed.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.types import Receive, Scope

from extensions.request_body import read_body as read_raw_body
from extensions.request_body import replaying

__all__ = ["Body", "read_body"]

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_FIELD_NAME = re.compile(rb'name="([^"]*)"')


def _multipart_parts(raw: bytes, boundary: bytes) -> list[bytes]:
    return raw.split(b"--" + boundary)


def _multipart_fields(raw: bytes, boundary: bytes) -> dict[str, Any]:
    """Text fields of a multipart body (file parts are skipped: only selectors matter)."""
    fields: dict[str, Any] = {}
    for part in _multipart_parts(raw, boundary)[1:]:
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep or b"filename=" in head:
            continue
        name = _FIELD_NAME.search(head)
        if name is not None:
            fields.setdefault(
                name.group(1).decode("utf-8", "replace"), value.removesuffix(b"\r\n").decode("utf-8", "replace")
            )
    return fields


def _rewrite_multipart(raw: bytes, boundary: bytes, changes: dict[str, str]) -> bytes:
    parts = _multipart_parts(raw, boundary)
    for index, part in enumerate(parts[1:], start=1):
        head, sep, _value = part.partition(b"\r\n\r\n")
        name = _FIELD_NAME.search(head) if sep and b"filename=" not in head else None
        if name is not None and name.group(1).decode("utf-8", "replace") in changes:
            parts[index] = head + sep + changes[name.group(1).decode("utf-8", "replace")].encode() + b"\r\n"
    return (b"--" + boundary).join(parts)


@dataclass
class Body:
    """A buffered request body: the parsed fields (``data``, None if not parsed) and its replay."""

    raw: bytes
    kind: str  # "json", "multipart", "form" or "" (not parsed)
    data: dict[str, Any] | None
    receive: Receive
    boundary: bytes = b""
    original: dict[str, Any] = field(default_factory=dict)

    async def rewritten(self, scope: Scope) -> Receive:
        """The receive to hand on: the original bytes, or the re-encoded body if a field changed."""
        if self.data is None or self.data == self.original:
            return self.receive
        if self.kind == "json":
            raw = json.dumps(self.data).encode()
        elif self.kind == "form":
            raw = urlencode([(k, v) for k, v in self.data.items()]).encode()
        else:
            changes = {k: str(v) for k, v in self.data.items() if self.original.get(k) != v}
            raw = _rewrite_multipart(self.raw, self.boundary, changes)
        scope["headers"] = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"] + [
            (b"content-length", str(len(raw)).encode())
        ]
        return replaying(raw, self.receive)


async def read_body(scope: Scope, receive: Receive, *, markers: tuple[bytes, ...] | None) -> Body:
    """Buffer the body; parse it only when it is JSON/form and (with ``markers``) mentions one of them."""
    if scope.get("method", "GET") in ("GET", "HEAD", "DELETE", "OPTIONS") and markers is not None:
        return Body(b"", "", None, receive)
    content_type = Headers(scope=scope).get("content-type", "")
    if markers is not None and "json" not in content_type:
        return Body(b"", "", None, receive)  # inference bodies that name objects are JSON
    raw = await read_raw_body(receive)
    replay = replaying(raw, receive)
    if markers is not None and not any(marker in raw for marker in markers):
        return Body(raw, "", None, replay)
    data: dict[str, Any] | None = None
    kind, boundary = "", b""
    if "multipart/form-data" in content_type:
        found = _BOUNDARY.search(content_type)
        if found is not None:
            kind, boundary = "multipart", found.group(1).encode()
            data = _multipart_fields(raw, boundary)
    elif "application/x-www-form-urlencoded" in content_type:
        kind, data = "form", dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
    elif raw.strip():
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None  # not JSON: LiteLLM answers the parse error itself
        if isinstance(parsed, dict):
            kind, data = "json", parsed
    return Body(raw, kind, data, replay, boundary, copy.deepcopy(data) if data is not None else {})
