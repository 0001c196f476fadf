"""Invitation mail over SMTP (aiosmtplib), configured by env, optionally per account.

An account may carry its own server in its settings (``settings.smtp``: host, port, user,
password, from, starttls); otherwise ``ATRIUM_SMTP_*`` applies. No server: a clear error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from extensions.auth.errors import MailFailed

__all__ = ["SmtpSettings", "send_invitation", "send_mail", "smtp_settings"]


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    sender: str
    starttls: bool


def smtp_settings(account_settings: dict[str, Any] | None = None) -> SmtpSettings:
    own = (account_settings or {}).get("smtp")
    if isinstance(own, dict) and own.get("host"):
        user = own.get("user")
        return SmtpSettings(
            host=str(own["host"]),
            port=int(own.get("port") or 587),
            user=str(user) if user else None,
            password=str(own["password"]) if own.get("password") else None,
            sender=str(own.get("from") or "atrium@localhost"),
            starttls=bool(own.get("starttls", bool(user))),
        )
    host = os.environ.get("ATRIUM_SMTP_HOST")
    if not host:
        raise MailFailed(
            "no SMTP server is configured for invitation mail",
            hint="set ATRIUM_SMTP_HOST (and ATRIUM_SMTP_PORT/USER/PASSWORD/FROM), or the account's settings.smtp",
        )
    user = os.environ.get("ATRIUM_SMTP_USER") or None
    starttls_raw = os.environ.get("ATRIUM_SMTP_STARTTLS")
    return SmtpSettings(
        host=host,
        port=int(os.environ.get("ATRIUM_SMTP_PORT") or 587),
        user=user,
        password=os.environ.get("ATRIUM_SMTP_PASSWORD") or None,
        sender=os.environ.get("ATRIUM_SMTP_FROM") or "atrium@localhost",
        starttls=starttls_raw.lower() == "true" if starttls_raw else user is not None,
    )


async def send_mail(settings: SmtpSettings, message: EmailMessage, *, timeout_s: float = 10) -> None:
    """Every mail Atrium sends (invitations, budget alerts) goes out here, from ``settings.sender``.

    Raises aiosmtplib's errors and ``OSError``: each sender decides what a failure means."""
    message["From"] = settings.sender
    await aiosmtplib.send(
        message,
        hostname=settings.host,
        port=settings.port,
        username=settings.user,
        password=settings.password,
        start_tls=settings.starttls,
        timeout=timeout_s,
    )


async def send_invitation(settings: SmtpSettings, *, to: str, account_name: str, link: str, hours: float) -> None:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = f"You are invited to {account_name}"
    message.set_content(
        f"You have been invited to the {account_name} account of the AI gateway.\n\n"
        f"Accept the invitation (the link works once and expires in {hours:g} hours):\n{link}\n"
    )
    try:
        await send_mail(settings, message)
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailFailed(
            f"the invitation mail to {to} could not be sent ({type(exc).__name__})",
            hint=f"check the SMTP server {settings.host}:{settings.port}; the invitation was not created",
        ) from exc
