"""Where an account's budget alerts go: a webhook (signed) and/or email addresses.

One row per account in ``Atrium_BudgetAlertConfig``. The webhook URL is the tenant's and the
gateway calls it from inside the operator's network, so it is checked against the egress policy
when written (and again on every send: ``delivery.py``). The signing secret is encrypted with
LiteLLM's helper (as OIDC client secrets are) and is write-only: reads only say ``webhook_secret_set``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from extensions import litellm
from extensions.egress import current_policy
from extensions.errors import AtriumError, RequestError, echo
from extensions.tenancy.policy.config_values import check_references

__all__ = [
    "EMAILS_MAX",
    "EMAIL_MAX",
    "SECRET_MAX",
    "SECRET_MIN",
    "URL_MAX",
    "AlertConfig",
    "AlertConfigStore",
    "AlertSecretUnreadable",
    "check_emails",
]

URL_MAX: Final = 2048
EMAIL_MAX: Final = 254  # RFC 5321 path limit
EMAILS_MAX: Final = 20
SECRET_MIN: Final = 16
SECRET_MAX: Final = 256
# Deliberately plain: one address, no display name, no list separators (the header is ours).
_EMAIL = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"']+$")


class AlertSecretUnreadable(AtriumError):
    code = "alert_secret_unreadable"
    status = 500


@dataclass(frozen=True)
class AlertConfig:
    account_id: str
    webhook_url: str | None
    webhook_secret_enc: str | None
    emails: tuple[str, ...]
    enabled: bool
    updated_at: datetime | None = None
    updated_by: str | None = None

    def webhook_secret(self) -> str:
        plain = litellm.decrypt_secret(self.webhook_secret_enc or "", "budget_alert_webhook_secret")
        if not plain:
            raise AlertSecretUnreadable(
                "the account's alert webhook secret cannot be decrypted",
                hint="LITELLM_SALT_KEY or the master key changed: the account admin must set the secret again",
            )
        return plain

    def public(self) -> dict[str, Any]:
        """What the API returns: everything but the secret."""
        return {
            "account_id": self.account_id,
            "configured": True,
            "webhook_url": self.webhook_url,
            "webhook_secret_set": bool(self.webhook_secret_enc),
            "emails": list(self.emails),
            "enabled": self.enabled,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }

    @staticmethod
    def unset(account_id: str) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "configured": False,
            "webhook_url": None,
            "webhook_secret_set": False,
            "emails": [],
            "enabled": False,
            "updated_at": None,
            "updated_by": None,
        }


def check_emails(emails: Sequence[str]) -> tuple[str, ...]:
    """Valid, deduplicated (case-insensitively) addresses, at most ``EMAILS_MAX``."""
    seen: dict[str, str] = {}
    for index, raw in enumerate(emails):
        address = raw.strip()
        if len(address) > EMAIL_MAX or not _EMAIL.match(address):
            raise RequestError(
                f"emails[{index}]: {echo(address)} is not an email address",
                hint="give plain addresses such as finance@example.com",
                param=f"emails[{index}]",
            )
        seen.setdefault(address.lower(), address)
    if len(seen) > EMAILS_MAX:
        raise RequestError(f"at most {EMAILS_MAX} alert emails", hint="use a mailing list address", param="emails")
    return tuple(seen.values())


def _config(row: asyncpg.Record) -> AlertConfig:
    emails = json.loads(row["emails"]) if isinstance(row["emails"], str) else row["emails"]
    return AlertConfig(
        account_id=row["account_id"],
        webhook_url=row["webhook_url"],
        webhook_secret_enc=row["webhook_secret_enc"],
        emails=tuple(str(e) for e in emails or ()),
        enabled=row["enabled"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


class AlertConfigStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, account_id: str, conn: Any = None) -> AlertConfig | None:
        row = await (conn or self.pool).fetchrow(
            'SELECT * FROM "Atrium_BudgetAlertConfig" WHERE account_id = $1', account_id
        )
        return _config(row) if row is not None else None

    async def put(
        self,
        account_id: str,
        *,
        webhook_url: str | None,
        webhook_secret: str | None,
        emails: Sequence[str],
        enabled: bool,
        updated_by: str | None,
    ) -> AlertConfig:
        url = (webhook_url or "").strip() or None
        addresses = check_emails(emails)
        check_references({"webhook_url": url, "emails": list(addresses)}, "")
        existing = await self.get(account_id)
        secret_enc: str | None = None
        if url is not None:
            # Write time: refuse what the policy refuses now; a name that does not resolve yet is
            # accepted since every send checks (and pins) the address again.
            await current_policy().check(url, "webhook_url", unresolvable_ok=True)
            if webhook_secret:
                secret_enc = litellm.encrypt_secret(webhook_secret)
            elif existing is not None and existing.webhook_url == url and existing.webhook_secret_enc:
                secret_enc = existing.webhook_secret_enc
            else:
                raise RequestError(
                    "webhook_secret is required with a new webhook_url",
                    hint=f"send a random secret of {SECRET_MIN} to {SECRET_MAX} characters; "
                    "receivers verify X-Atrium-Signature with it",
                    param="webhook_secret",
                )
        await self.pool.execute(
            'INSERT INTO "Atrium_BudgetAlertConfig" (account_id, webhook_url, webhook_secret_enc, emails, enabled, '
            "updated_by) VALUES ($1, $2, $3, $4::jsonb, $5, $6) "
            "ON CONFLICT (account_id) DO UPDATE SET webhook_url = EXCLUDED.webhook_url, "
            "webhook_secret_enc = EXCLUDED.webhook_secret_enc, emails = EXCLUDED.emails, "
            "enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by, updated_at = now()",
            account_id,
            url,
            secret_enc,
            json.dumps(list(addresses)),
            enabled,
            updated_by,
        )
        saved = await self.get(account_id)
        assert saved is not None
        return saved
