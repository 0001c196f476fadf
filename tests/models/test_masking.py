"""Error bodies name the caller's own models by public name and no other account's internal names."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from extensions.models.masking import ModelNameMasking
from extensions.tenancy.request.context import PrincipalKind, TenantContext, tenant_context

MINE = "0b62c725-f307-479b-9ffd-a9fab73cdddb"
OTHER = "443cea65-45eb-42cf-93f8-273d34550bbf"


def _answer(status: int, body: dict[str, Any]) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raw = json.dumps(body).encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-length", b"%d" % len(raw))]}
        )
        await send({"type": "http.response.body", "body": raw})

    return app


def _through_masking(status: int, body: dict[str, Any]) -> tuple[int, str]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def run() -> None:
        with tenant_context(TenantContext(PrincipalKind.ACCOUNT_ADMIN, MINE, "u")):
            await ModelNameMasking(_answer(status, body))({"type": "http"}, receive, send)

    asyncio.run(run())
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]).decode()


def test_error_lists_own_models_by_public_name_and_hides_other_accounts() -> None:
    listing = f"Invalid default_model. Choose from ['gpt-fake', '{MINE}/mine', '{OTHER}/theirs', \"{OTHER}/x y\"]"
    status, text = _through_masking(400, {"error": {"message": listing}})
    assert status == 400
    assert OTHER not in text and "theirs" not in text
    assert "'mine'" in text and "gpt-fake" in text


def test_success_bodies_pass_untouched() -> None:
    _, text = _through_masking(200, {"id": f"{OTHER}/kept"})
    assert f"{OTHER}/kept" in text
