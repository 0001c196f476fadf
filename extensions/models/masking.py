"""Clients see the model name they asked for, in errors and headers too.

LiteLLM restamps ``model`` in responses and stream chunks with the client's name, but
its error messages and the ``x-litellm-model-group`` header carry the router group,
which for an account model is ``<account_id>/<public>``. For a request of an account,
this strips the account's own prefix from response headers and from error bodies
(errors are small and never streamed); success bodies pass through untouched. Some of
LiteLLM's errors list every router group (an unknown ``default_model`` of a customer):
any other account's internal name left in an error body is cut out.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extensions.tenancy.request.context import data_scope

__all__ = ["ModelNameMasking"]

# ``<account uuid>/<name>``, the internal form of account models and end users; after the
# caller's own prefix is removed, any left belongs to another account.
_FOREIGN_INTERNAL = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[^\s\"',\]\)}]*")
_HIDDEN = b"<hidden>"


class ModelNameMasking:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        data = data_scope()  # unrestricted and global-rows scopes name no account to strip
        if scope["type"] != "http" or data.account_id is None:
            await self.app(scope, receive, send)
            return
        prefix = f"{data.account_id}/".encode()
        is_error = False
        held: list[Message] = []

        async def masked_send(message: Message) -> None:
            nonlocal is_error
            if message["type"] == "http.response.start":
                is_error = message["status"] >= 400
                headers = [(k, v.replace(prefix, b"")) for k, v in message.get("headers", [])]
                message = {**message, "headers": headers}
                if is_error:
                    held.append(message)  # sent with the body: its length changes
                    return
            elif message["type"] == "http.response.body" and is_error:
                held.append(message)
                if message.get("more_body", False):
                    return
                await _send_masked_error(send, held, prefix)
                return
            await send(message)

        await self.app(scope, receive, masked_send)


async def _send_masked_error(send: Send, held: list[Message], prefix: bytes) -> None:
    start, *bodies = held
    body = _FOREIGN_INTERNAL.sub(_HIDDEN, b"".join(m.get("body", b"") for m in bodies).replace(prefix, b""))
    headers = [(k, str(len(body)).encode() if k.lower() == b"content-length" else v) for k, v in start["headers"]]
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
