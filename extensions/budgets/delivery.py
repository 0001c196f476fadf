"""Sending one alert delivery: a signed webhook POST or an email; the outcome of one attempt.

The webhook URL is the tenant's, so the POST goes through the egress-guarded transport: the
address is resolved, checked against the operator's policy and pinned on every attempt (a name
that later resolves to an internal address is refused), and redirects are not followed.
Receivers verify ``X-Atrium-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` with the
account's secret and deduplicate on ``X-Atrium-Delivery`` (stable across retries).
Email goes over the account's SMTP server (``settings.smtp``) or the global ``ATRIUM_SMTP_*``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Final

import aiosmtplib
import httpx

from extensions.auth.mailer import send_mail, smtp_settings
from extensions.budgets.alert_config import AlertConfig, AlertConfigStore
from extensions.egress.policy import EgressRefused, current_policy
from extensions.egress.transport import guarded_transport
from extensions.errors import AtriumError

__all__ = ["ERROR_MAX", "Attempt", "Delivery", "Sender", "sign"]

SEND_TIMEOUT_S: Final = 10.0
ERROR_MAX: Final = 300  # last_error stays short: it is shown to the account admin


@dataclass(frozen=True)
class Delivery:
    """One claimed outbox row."""

    id: str
    account_id: str
    alert_id: str
    channel: str  # webhook | email
    target: str  # the URL, or the comma-separated recipients
    payload: Mapping[str, Any]
    attempts: int  # including the one being made


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    final: bool = False  # no point retrying (the destination was removed)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:ERROR_MAX]


def _when(payload: Mapping[str, Any], key: str) -> str:
    return str(payload.get(key, ""))[:10]  # the date part of an ISO timestamp


class Sender:
    def __init__(self, configs: AlertConfigStore, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._configs = configs
        self._clock = clock
        self._http: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def send(self, delivery: Delivery) -> Attempt:
        try:
            config = await self._configs.get(delivery.account_id)
            if config is None or not config.enabled:
                # Turned off (or removed) after the alert fired: pending retries stop too.
                return Attempt(False, error="the account's budget alerts were turned off", final=True)
            if delivery.channel == "webhook":
                return await self._webhook(delivery, config)
            return await self._email(delivery)
        except EgressRefused as exc:  # the operator's policy, not the receiver: retrying cannot help
            return Attempt(False, error=f"{exc.code}: {exc.message}"[:ERROR_MAX], final=True)
        except AtriumError as exc:  # no SMTP server, unreadable secret
            return Attempt(False, error=f"{exc.code}: {exc.message}"[:ERROR_MAX])
        except (httpx.HTTPError, aiosmtplib.SMTPException, OSError) as exc:
            return Attempt(False, error=_short(exc))

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=guarded_transport("webhook_url"),
                timeout=SEND_TIMEOUT_S,
                follow_redirects=False,  # a redirect would leave the URL the policy checked
                trust_env=False,
            )
        return self._http

    async def _webhook(self, delivery: Delivery, config: AlertConfig) -> Attempt:
        if not config.webhook_secret_enc:
            return Attempt(False, error="the account's alert webhook was removed", final=True)
        # The address first: a refused destination is refused whatever the secret (the transport
        # checks again, and pins, when it connects).
        await current_policy().check(delivery.target, "webhook_url")
        now = self._clock()
        body = json.dumps({**delivery.payload, "sent_at": now.isoformat()}, separators=(",", ":")).encode()
        response = await self._client().post(
            delivery.target,
            content=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Atrium-Alerts/1",
                "X-Atrium-Signature": sign(config.webhook_secret(), body),
                "X-Atrium-Timestamp": str(int(now.timestamp())),
                "X-Atrium-Delivery": delivery.id,
            },
        )
        if 200 <= response.status_code < 300:
            return Attempt(True, status_code=response.status_code)
        return Attempt(False, status_code=response.status_code, error=f"HTTP {response.status_code}")

    async def _email(self, delivery: Delivery) -> Attempt:
        row = await self._configs.pool.fetchrow(
            'SELECT name, settings FROM "Atrium_Account" WHERE account_id = $1', delivery.account_id
        )
        if row is None:
            return Attempt(False, error="the account no longer exists", final=True)
        settings = json.loads(row["settings"]) if isinstance(row["settings"], str) else row["settings"]
        smtp = smtp_settings(settings)
        p = delivery.payload
        message = EmailMessage()
        message["To"] = delivery.target
        message["Subject"] = f"Budget alert: {row['name']} reached {float(p['threshold']):g}% of its budget"
        message["X-Atrium-Delivery"] = delivery.id
        message.set_content(
            f"The account {row['name']} ({delivery.account_id}) has spent {float(p['spend']):.2f} "
            f"of its {float(p['max_budget']):.2f} budget for the period "
            f"{_when(p, 'period_start')} to {_when(p, 'period_end')}, "
            f"crossing the {float(p['threshold']):g}% alert threshold.\n\n"
            f"Alert id: {delivery.alert_id}\nPeriod: {p['period_start']} to {p['period_end']} (UTC)\n"
        )
        await send_mail(smtp, message, timeout_s=SEND_TIMEOUT_S)
        return Attempt(True)
