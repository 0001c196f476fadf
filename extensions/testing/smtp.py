"""A local SMTP server (aiosmtpd) that keeps every message it receives, for invitation tests."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from extensions.testing.fake_upstream import free_port

__all__ = ["MailCatcher"]


class _Handler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


class MailCatcher:
    def __init__(self) -> None:
        self.port = free_port()
        self._handler = _Handler()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self._handler.messages

    def start(self) -> MailCatcher:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, recipient: str, timeout: float = 20.0) -> EmailMessage:
        """The newest message to ``recipient``; polls because delivery is asynchronous."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.messages):
                if recipient.lower() in str(message.get("To", "")).lower():
                    return message  # type: ignore[no-any-return]
            time.sleep(0.1)
        raise AssertionError(f"no mail to {recipient}; got {[m.get('To') for m in self.messages]}")
