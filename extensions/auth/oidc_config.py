"""Per-account OIDC configuration: one identity provider per account, managed by its admin.

The client secret is encrypted at rest with LiteLLM's own helper (LITELLM_SALT_KEY, else
the master key) and never leaves this module in clear except towards the IdP's token
endpoint; reads only say ``client_secret_set``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from extensions import litellm
from extensions.auth.errors import SsoNotConfigured
from extensions.errors import RequestError
from extensions.tenancy.accounts.store import normalise_domain

__all__ = ["OidcConfig", "OidcConfigStore", "check_idp_url"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class OidcConfig:
    account_id: str
    issuer: str
    discovery_url: str | None
    client_id: str
    client_secret_enc: str
    scopes: str
    allowed_domains: list[str]
    role_claim: str
    admin_values: list[str]
    enabled: bool
    super_admin_trusted: bool
    updated_by: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def client_secret(self) -> str:
        plain = litellm.decrypt_secret(self.client_secret_enc, "oidc_client_secret")
        if plain is None:
            raise SsoNotConfigured(
                "the account's OIDC client secret cannot be decrypted",
                hint="LITELLM_SALT_KEY or the master key changed: the account admin must set the secret again",
            )
        return plain

    def public(self) -> dict[str, Any]:
        """What the API returns: everything but the secret."""
        return {
            "account_id": self.account_id,
            "issuer": self.issuer,
            "discovery_url": self.discovery_url,
            "client_id": self.client_id,
            "client_secret_set": bool(self.client_secret_enc),
            "scopes": self.scopes,
            "allowed_domains": self.allowed_domains,
            "role_claim": self.role_claim,
            "admin_values": self.admin_values,
            "enabled": self.enabled,
            "super_admin_trusted": self.super_admin_trusted,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
        }


def check_idp_url(url: str, name: str) -> str:
    """HTTPS only, except on loopback (local IdPs and tests)."""
    parts = urlsplit(url.strip())
    if parts.scheme == "https" and parts.hostname:
        return url.strip()
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url.strip()
    raise RequestError(f"{name} {url!r} is not an https URL", hint=f"give the IdP's https {name}")


def _row(row: asyncpg.Record) -> OidcConfig:
    def _list(value: Any) -> list[str]:
        loaded = json.loads(value) if isinstance(value, str) else value
        return [str(v) for v in loaded or []]

    return OidcConfig(
        account_id=row["account_id"],
        issuer=row["issuer"],
        discovery_url=row["discovery_url"],
        client_id=row["client_id"],
        client_secret_enc=row["client_secret_enc"],
        scopes=row["scopes"],
        allowed_domains=_list(row["allowed_domains"]),
        role_claim=row["role_claim"],
        admin_values=_list(row["admin_values"]),
        enabled=row["enabled"],
        super_admin_trusted=row["super_admin_trusted"],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"].isoformat(),
    )


class OidcConfigStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, account_id: str) -> OidcConfig | None:
        row = await self.pool.fetchrow('SELECT * FROM "Atrium_OidcConfig" WHERE account_id = $1', account_id)
        return _row(row) if row is not None else None

    async def account_domains(self, account_id: str) -> list[str]:
        rows = await self.pool.fetch(
            'SELECT domain FROM "Atrium_AccountDomain" WHERE account_id = $1 ORDER BY domain', account_id
        )
        return [r["domain"] for r in rows]

    async def put(
        self,
        account_id: str,
        *,
        issuer: str,
        discovery_url: str | None,
        client_id: str,
        client_secret: str | None,
        scopes: str,
        allowed_domains: list[str],
        role_claim: str,
        admin_values: list[str],
        enabled: bool,
        updated_by: str | None,
        by_super_admin: bool,
    ) -> OidcConfig:
        issuer = check_idp_url(issuer, "issuer")
        if discovery_url:
            discovery_url = check_idp_url(discovery_url, "discovery_url")
        if not client_id.strip():
            raise RequestError("client_id must not be empty", hint="copy the client id from your IdP")
        if "openid" not in scopes.split():
            raise RequestError("scopes must include openid", hint="for example: openid email profile")
        owned = await self.account_domains(account_id)
        domains = sorted({normalise_domain(d) for d in allowed_domains}) or owned
        foreign = [d for d in domains if d not in owned]
        if foreign:
            # An account's IdP may only vouch for the account's own domains, so it can never
            # sign someone into the account under another account's addresses.
            raise RequestError(
                f"email domain {foreign[0]} does not belong to this account",
                hint="allowed_domains must be a subset of the account's email domains (ask the super admin)",
            )
        existing = await self.get(account_id)
        if client_secret:
            secret_enc = litellm.encrypt_secret(client_secret)
        elif existing is not None and existing.client_id == client_id:
            secret_enc = existing.client_secret_enc
        else:
            raise RequestError("client_secret is required", hint="send the client secret issued by your IdP")
        await self.pool.execute(
            'INSERT INTO "Atrium_OidcConfig" (account_id, issuer, discovery_url, client_id, client_secret_enc, '
            "scopes, allowed_domains, role_claim, admin_values, enabled, super_admin_trusted, updated_by) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10, $11, $12) "
            "ON CONFLICT (account_id) DO UPDATE SET issuer = EXCLUDED.issuer, discovery_url = EXCLUDED.discovery_url, "
            "client_id = EXCLUDED.client_id, client_secret_enc = EXCLUDED.client_secret_enc, "
            "scopes = EXCLUDED.scopes, allowed_domains = EXCLUDED.allowed_domains, role_claim = EXCLUDED.role_claim, "
            "admin_values = EXCLUDED.admin_values, enabled = EXCLUDED.enabled, "
            "super_admin_trusted = EXCLUDED.super_admin_trusted, updated_by = EXCLUDED.updated_by, updated_at = now()",
            account_id,
            issuer,
            discovery_url,
            client_id.strip(),
            secret_enc,
            scopes,
            json.dumps(domains),
            role_claim,
            json.dumps(admin_values),
            enabled,
            # Only the super admin's own write makes this IdP trusted to sign in super admins:
            # an account admin controls their IdP and could otherwise assert any email.
            by_super_admin,
            updated_by,
        )
        saved = await self.get(account_id)
        assert saved is not None
        return saved

    async def delete(self, account_id: str) -> bool:
        status = await self.pool.execute('DELETE FROM "Atrium_OidcConfig" WHERE account_id = $1', account_id)
        return not status.endswith(" 0")

    async def account_for_email(self, email: str) -> str | None:
        """The account owning the email's domain, or None."""
        domain = email.rsplit("@", 1)[-1].strip().lower()
        row = await self.pool.fetchrow(
            'SELECT d.account_id FROM "Atrium_AccountDomain" d JOIN "Atrium_Account" a USING (account_id) '
            "WHERE d.domain = $1 AND a.status <> 'deleted'",
            domain,
        )
        return row["account_id"] if row is not None else None
