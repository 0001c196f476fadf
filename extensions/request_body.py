"""Reading an ASGI request body once and handing it on: used by every check that reads bodies."""

from __future__ import annotations

from starlette.types import Message, Receive

__all__ = ["buffer_body", "read_body", "replaying"]


async def read_body(receive: Receive) -> bytes:
    """The whole body; ``receive`` is drained of it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then what ``receive`` yields (the client's disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    body = await read_body(receive)
    return body, replaying(body, receive)
