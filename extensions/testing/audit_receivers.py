"""Loopback receivers for the audit sinks: an OTLP/HTTP logs receiver and a JSON bulk receiver.

Both run as a thread on 127.0.0.1, check the credentials they were given, keep what they accept,
and can be turned down and back up on the same port: ``down("refuse")`` closes the listening
socket (connection refused), ``down("503")`` answers 503 and keeps nothing.

- :class:`OtlpLogsReceiver`: ``POST /v1/logs`` with the OTLP/JSON encoding of
  ``ExportLogsServiceRequest`` (the protobuf encoding would need ``opentelemetry-proto``, which
  is not installed); each log record is decoded to ``{attribute: value}`` plus ``body``.
- :class:`JsonBulkReceiver`: OpenObserve's ``POST /api/{org}/{stream}/_json`` (a JSON array) and
  Elasticsearch's ``POST .../_bulk`` (NDJSON action + document lines), with basic auth.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from extensions.testing.fake_upstream import free_port

__all__ = ["JsonBulkReceiver", "OtlpLogsReceiver", "otlp_value"]


def otlp_value(value: dict[str, Any]) -> Any:
    """An OTLP/JSON ``AnyValue`` as a Python value."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [otlp_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return {kv["key"]: otlp_value(kv["value"]) for kv in value["kvlistValue"].get("values", [])}
    return None


class _Receiver:
    """The shared part: a server thread, a mode, what was accepted, how many requests were turned away."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "up"  # up | 503 | refuse
        self.records: list[dict[str, Any]] = []
        self.batches: list[int] = []  # records per accepted request
        self.requests = 0
        self.refused = 0  # requests answered with an error (503, 401, 400)
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        raise NotImplementedError

    def _serve(self) -> None:
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests += 1
                    if receiver.mode == "503":
                        status, answer = 503, b'{"error": "down"}'
                    else:
                        before = len(receiver.records)
                        status, answer = receiver.handle(self.path, dict(self.headers.items()), body)
                        if status < 300:
                            receiver.batches.append(len(receiver.records) - before)
                    if status >= 300:
                        receiver.refused += 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="audit-receiver", daemon=True)
        self._thread.start()

    def start(self) -> _Receiver:
        self._serve()
        return self

    def down(self, how: str = "503") -> None:
        """503: answer every request 503; refuse: close the socket (connection refused)."""
        with self.lock:
            self.mode = how
        if how == "refuse":
            self.stop()

    def up(self) -> None:
        with self.lock:
            self.mode = "up"
        if self._server is None:
            self._serve()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.records)


class OtlpLogsReceiver(_Receiver):
    def __init__(self, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.required_headers = headers or {}
        self.resources: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/logs"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if any(lowered.get(k.lower()) != v for k, v in self.required_headers.items()):
            return 401, b'{"error": "unauthenticated"}'
        if path != "/v1/logs" or not lowered.get("content-type", "").startswith("application/json"):
            return 400, b'{"error": "expected OTLP/JSON on /v1/logs"}'
        request = json.loads(body)
        for resource_logs in request["resourceLogs"]:
            resource = {a["key"]: otlp_value(a["value"]) for a in resource_logs["resource"]["attributes"]}
            for scope_logs in resource_logs["scopeLogs"]:
                for log_record in scope_logs["logRecords"]:
                    decoded = {a["key"]: otlp_value(a["value"]) for a in log_record["attributes"]}
                    decoded["body"] = otlp_value(log_record["body"])
                    decoded["timeUnixNano"] = int(log_record["timeUnixNano"])
                    decoded["scope"] = scope_logs["scope"]["name"]
                    decoded["resource"] = resource
                    self.records.append(decoded)
        return 200, b"{}"


class JsonBulkReceiver(_Receiver):
    def __init__(self, user: str, password: str, org: str = "default", stream: str = "audit") -> None:
        super().__init__()
        self.expected_auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.org, self.stream = org, stream
        self.actions: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/{self.org}/{self.stream}/_json"

    @property
    def bulk_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/{self.org}/_bulk"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("authorization") != self.expected_auth:
            return 401, b'{"code": 401, "message": "Unauthorized Access"}'
        if path == f"/api/{self.org}/{self.stream}/_json":
            documents = json.loads(body)
            if not isinstance(documents, list):
                return 400, b'{"code": 400, "message": "expected a JSON array"}'
            self.records += documents
            status = [{"name": self.stream, "successful": len(documents), "failed": 0}]
            return 200, json.dumps({"code": 200, "status": status}).encode()
        if path.endswith("/_bulk"):
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            for action, document in zip(lines[::2], lines[1::2], strict=True):
                self.actions.append(action)
                self.records.append(document)
            return 200, json.dumps(
                {"errors": False, "items": [{"index": {"status": 201}}] * (len(lines) // 2)}
            ).encode()
        return 404, b'{"code": 404}'
