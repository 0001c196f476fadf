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

            async def events() -> AsyncIterator[bytes]:
                words = reply.split(" ")
                for i, word in enumerate(words):
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

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": state.name}]}

    return app


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
