"""A fake OpenAI-compatible upstream on loopback, for tests and benchmarks.

Behaviour on demand, driven by the last user message:
``ERROR <status>`` answers with that HTTP status and an OpenAI error body (``ERROR@<name> <status>``:
only the upstream of that name fails, so a fallback to another upstream can be observed);
``SLOW <seconds>`` waits before answering. Every request is recorded (path, the
``Authorization`` header the provider key arrives in, the JSON body) so tests can assert
which upstream received a call and with which key.

Run standalone: ``python -m extensions.testing.fake_upstream --port 9000 --name a``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

__all__ = ["FakeUpstream", "RecordedRequest", "build_app", "free_port"]


@dataclass
class RecordedRequest:
    path: str
    authorization: str | None
    body: dict[str, Any]


@dataclass
class _State:
    name: str
    requests: list[RecordedRequest] = field(default_factory=list)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
            return str(content or "")
    return ""


def _error(status: int) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": f"fake upstream error {status}", "type": "fake_error", "code": str(status)}},
        status_code=status,
    )


def build_app(state: _State) -> FastAPI:
    app = FastAPI()

    async def directive(body: dict[str, Any]) -> JSONResponse | None:
        text = _last_user_text(body).strip()
        if text.startswith("SLOW "):
            await asyncio.sleep(float(text.split()[1]))
        if text.startswith("ERROR "):
            return _error(int(text.split()[1]))
        if text.startswith(f"ERROR@{state.name} "):  # only this upstream fails: fallbacks can be observed
            return _error(int(text.split()[1]))
        return None

    @app.post("/v1/chat/completions")
    @app.post("/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        state.requests.append(RecordedRequest(request.url.path, request.headers.get("authorization"), body))
        failure = await directive(body)
        if failure is not None:
            return failure
        model = body.get("model", "unknown")
        reply = f"[{state.name}] {_last_user_text(body)}"
        created = int(time.time())
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
        if body.get("stream"):
            # "DRIP <seconds> ...": a pause before each chunk, so a client can leave mid-stream.
            text = _last_user_text(body).strip()
            drip = float(text.split()[1]) if text.startswith("DRIP ") else 0.0

            async def events() -> AsyncIterator[bytes]:
                words = reply.split(" ")
                for i, word in enumerate(words):
                    if drip:
                        await asyncio.sleep(drip)
                    chunk = {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"content": (" " if i else "") + word},
                                "finish_reason": None,
                            }
                        ],
                    }
                    yield f"data: {json.dumps(chunk)}\n\n".encode()
                final = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": usage,
                }
                yield f"data: {json.dumps(final)}\n\n".encode()
                yield b"data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": usage,
        }

    @app.post("/v1/embeddings")
    @app.post("/embeddings")
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        state.requests.append(RecordedRequest(request.url.path, request.headers.get("authorization"), body))
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        return {
            "object": "list",
            "model": body.get("model", "unknown"),
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3, float(len(str(x)))]}
                for i, x in enumerate(items)
            ],
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        }

    @app.post("/v1/images/generations")
    @app.post("/images/generations")
    async def images(request: Request) -> Any:
        body = await request.json()
        state.requests.append(RecordedRequest(request.url.path, request.headers.get("authorization"), body))
        # A 1x1 PNG as base64: a real image payload, and the same bytes every time for comparisons.
        pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
        return {"created": int(time.time()), "data": [{"b64_json": pixel} for _ in range(int(body.get("n") or 1))]}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": state.name}]}

    install_object_endpoints(app, state)
    return app


async def _record(state: _State, request: Request) -> dict[str, Any]:
    """Record a provider-object call; JSON bodies are kept, multipart uploads as their size."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() and "json" in request.headers.get("content-type", "") else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {"_body": body}
    if "multipart" in request.headers.get("content-type", ""):
        body = {"_multipart_bytes": len(raw)}
    state.requests.append(RecordedRequest(request.url.path, request.headers.get("authorization"), body))
    return body


def install_object_endpoints(app: FastAPI, state: _State) -> None:
    """OpenAI's provider-object APIs (files, batches, responses, vector stores), in memory.

    Objects are kept per upstream and carry the upstream's name, so a test can tell whose
    provider account answered; any other path is recorded and answered with a stub.
    """
    objects: dict[str, dict[str, Any]] = {}

    def _new(kind: str, prefix: str, **fields: Any) -> dict[str, Any]:
        object_id = f"{prefix}{uuid.uuid4().hex[:16]}"
        created: dict[str, Any] = {"id": object_id, "object": kind, "created_at": int(time.time())}
        created.update(fields, upstream=state.name)
        objects[object_id] = created
        return created

    def _listing(kind: str) -> dict[str, Any]:
        return {"object": "list", "data": [o for o in objects.values() if o["object"] == kind], "has_more": False}

    def _get(object_id: str) -> Any:
        found = objects.get(object_id)
        return found if found is not None else JSONResponse({"error": {"message": "no such object"}}, 404)

    @app.post("/v1/files")
    async def create_file(request: Request) -> Any:
        await _record(state, request)
        return _new("file", "file-", bytes=1, filename="upload.jsonl", purpose="batch", status="processed")

    @app.get("/v1/files")
    async def list_files(request: Request) -> Any:
        await _record(state, request)
        return _listing("file")

    @app.get("/v1/files/{object_id}")
    async def get_file(object_id: str, request: Request) -> Any:
        await _record(state, request)
        return _get(object_id)

    @app.get("/v1/files/{object_id}/content")
    async def file_content(object_id: str, request: Request) -> Any:
        await _record(state, request)
        from fastapi.responses import Response

        return Response(content=f"content of {object_id} at {state.name}".encode(), media_type="application/jsonl")

    @app.delete("/v1/files/{object_id}")
    @app.delete("/v1/vector_stores/{object_id}")
    async def delete_object(object_id: str, request: Request) -> Any:
        await _record(state, request)
        found = objects.pop(object_id, None)
        return {"id": object_id, "object": found["object"] if found else "file", "deleted": found is not None}

    @app.post("/v1/batches")
    async def create_batch(request: Request) -> Any:
        body = await _record(state, request)
        return _new(
            "batch",
            "batch_",
            endpoint=body.get("endpoint", "/v1/chat/completions"),
            input_file_id=body.get("input_file_id", ""),
            completion_window="24h",
            status="validating",
        )

    @app.get("/v1/batches")
    async def list_batches(request: Request) -> Any:
        await _record(state, request)
        return _listing("batch")

    @app.get("/v1/batches/{object_id}")
    async def get_batch(object_id: str, request: Request) -> Any:
        await _record(state, request)
        return _get(object_id)

    @app.post("/v1/batches/{object_id}/cancel")
    async def cancel_batch(object_id: str, request: Request) -> Any:
        await _record(state, request)
        found = _get(object_id)
        if isinstance(found, dict):
            found["status"] = "cancelling"
        return found

    @app.post("/v1/responses")
    async def create_response(request: Request) -> Any:
        body = await _record(state, request)
        text = f"[{state.name}] response"
        return _new(
            "response",
            "resp_",
            model=body.get("model", "unknown"),
            status="completed",
            output=[
                {
                    "type": "message",
                    "id": f"msg_{uuid.uuid4().hex[:12]}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            usage={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
            parallel_tool_calls=True,
            tool_choice="auto",
            tools=[],
        )

    @app.get("/v1/responses/{object_id}")
    async def get_response(object_id: str, request: Request) -> Any:
        await _record(state, request)
        return _get(object_id)

    @app.post("/v1/vector_stores")
    async def create_vector_store(request: Request) -> Any:
        body = await _record(state, request)
        return _new("vector_store", "vs_", name=body.get("name", ""), status="completed", usage_bytes=0)

    @app.get("/v1/vector_stores")
    async def list_vector_stores(request: Request) -> Any:
        await _record(state, request)
        return _listing("vector_store")

    @app.get("/v1/vector_stores/{object_id}")
    async def get_vector_store(object_id: str, request: Request) -> Any:
        await _record(state, request)
        return _get(object_id)

    @app.api_route("/{rest:path}", methods=["GET", "POST", "DELETE", "PUT", "PATCH"])
    async def anything(rest: str, request: Request) -> Any:
        await _record(state, request)
        return {"object": "stub", "path": rest, "upstream": state.name}


class FakeUpstream:
    """Serve the fake upstream from a background thread of the calling process."""

    def __init__(self, name: str = "upstream", port: int | None = None) -> None:
        self.state = _State(name)
        self.port = port or free_port()
        self._server = uvicorn.Server(
            uvicorn.Config(build_app(self.state), host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True, name=f"fake-upstream-{name}")

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    def start(self) -> FakeUpstream:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake upstream did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="fake OpenAI-compatible upstream")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--name", default="upstream")
    args = parser.parse_args()
    uvicorn.run(build_app(_State(args.name)), host="127.0.0.1", port=args.port, log_level="warning")
