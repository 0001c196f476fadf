"""Atrium's settings, read from the environment once.

Every variable is listed in :data:`ENV_VARS` with its meaning; ``atrium --help`` prints
that table, so the help text and the code cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from extensions.errors import ConfigurationError

__all__ = ["DEV_MASTER_KEY", "ENV_VARS", "Settings", "SigninLimits", "redis_url_from_env"]

# At least 32 bytes: LiteLLM signs UI sessions with an HMAC keyed by the master key and warns below that.
DEV_MASTER_KEY = "sk-atrium-dev-master-key-for-local-use-only"

ENV_VARS: dict[str, str] = {
    "DATABASE_URL": "PostgreSQL DSN. Unset: embedded PostgreSQL 16 (pgserver) under ATRIUM_DATA_DIR.",
    "REDIS_URL": "Redis URL for cross-worker/replica invalidation and LiteLLM caching. Optional.",
    "LITELLM_MASTER_KEY": f"Super-admin key. Required with DATABASE_URL; embedded default {DEV_MASTER_KEY}.",
    "LITELLM_SALT_KEY": "Key LiteLLM encrypts stored provider credentials with (default: the master key).",
    "ATRIUM_DATA_DIR": "Where the embedded database and generated config live (default ./.atrium).",
    "ATRIUM_CONFIG": "A LiteLLM config.yaml to serve. Unset: a demo model backed by mock_response.",
    "ATRIUM_HOST": "Listen address (default 0.0.0.0).",
    "ATRIUM_PORT": "Listen port (default 4000).",
    "ATRIUM_WORKERS": "Number of uvicorn worker processes (default 1).",
    "ATRIUM_WORKER_HEALTHCHECK_TIMEOUT": "Seconds a starting worker has to answer uvicorn's supervisor (default 120).",
    "ATRIUM_PRISMA_ENGINE": "native | wasm: force the Prisma query engine (default: native if available).",
    "ATRIUM_MIGRATIONS_DIR": "Atrium's migrations folder (default: the installed package's, or the checkout's).",
    "ATRIUM_PRISMA_ENGINE_DIR": "The wasm engine project (default: the installed package's, or prisma/engine).",
    "ATRIUM_SCHEMA": "schema.prisma to generate the client from (default: the package's, or the checkout's).",
    "ATRIUM_LOG_LEVEL": "Log level of Atrium's structured logs (default INFO).",
    "ATRIUM_GC_FREEZE": "1 | 0: freeze each worker's start-up heap out of the garbage collector's way (default 1; "
    "extensions/heap.py).",
    # Identity (extensions/auth): SSO, super admins, trusted header, invitations.
    "SUPER_ADMIN_EMAILS": "Comma-separated emails that become super admins when they sign in through a trusted SSO.",
    "ATRIUM_PUBLIC_URL": "External base URL for SSO redirects and invitation links (default: the request's).",
    "ATRIUM_OIDC_TIMEOUT": "Seconds to wait for an identity provider (discovery, JWKS, token) (default 5).",
    "ATRIUM_TRUSTED_PROXIES": "Comma-separated IPs/CIDRs of proxies whose X-Forwarded-Email and X-Forwarded-For are "
    "trusted (default: none).",
    "ATRIUM_TRUSTED_EMAIL_HEADER": "Header the auth proxy puts the signed-in email in (default X-Forwarded-Email).",
    "ATRIUM_SMTP_HOST": "SMTP server for invitation mail (per-account override: account settings smtp.*).",
    "ATRIUM_SMTP_PORT": "SMTP port (default 587).",
    "ATRIUM_SMTP_USER": "SMTP user (optional).",
    "ATRIUM_SMTP_PASSWORD": "SMTP password (optional).",
    "ATRIUM_SMTP_FROM": "Sender address of invitation mail (default atrium@localhost).",
    "ATRIUM_SMTP_STARTTLS": "true | false: STARTTLS on connect (default true when ATRIUM_SMTP_USER is set).",
    "ATRIUM_INVITATION_TTL_HOURS": "Hours an invitation link stays valid (default 72).",
    # Sign-in throttling (extensions/auth/throttle.py), per surface, per source address and per account.
    "ATRIUM_SIGNIN_WINDOW_SECONDS": "Window sign-in failures and attempts are counted in (default 60).",
    "ATRIUM_SIGNIN_BLOCK_SECONDS": "How long an address or account is refused after too many failures (default 300).",
    "ATRIUM_SIGNIN_MAX_FAILURES_PER_ADDRESS": "Failed sign-ins (bad invitation, refused SSO callback or trusted "
    "header) per source address, per surface and window before 429 (default 10; 0: no limit).",
    "ATRIUM_SIGNIN_MAX_FAILURES_PER_ACCOUNT": "The same per account, from every address (default 50; 0: no limit).",
    "ATRIUM_SIGNIN_MAX_ATTEMPTS_PER_ADDRESS": "SSO starts and email look-ups per address and window (default 60).",
    "ATRIUM_SIGNIN_MAX_ATTEMPTS_PER_ACCOUNT": "SSO starts and email look-ups per account and window (default 300).",
    # Egress (extensions/egress): addresses an account's configuration may make the gateway call.
    "ATRIUM_EGRESS_ALLOW": "Comma list of CIDRs and/or host[:port] accounts may point models and IdPs at, "
    "beyond public addresses (default: none; loopback, private and link-local are refused).",
    # Audit log sinks and anchoring (extensions/audit/sink_config.py, docs/audit.md).
    "ATRIUM_AUDIT_OTLP_ENDPOINT": "OTLP/HTTP logs URL audit entries are forwarded to as log records, JSON encoding "
    "(e.g. http://collector:4318/v1/logs; used as is). Unset: no OTLP sink.",
    "ATRIUM_AUDIT_OTLP_HEADERS": "Headers of OTLP requests, k=v,k2=v2 (values URL-encoded, as "
    "OTEL_EXPORTER_OTLP_HEADERS). Secret: never logged.",
    "ATRIUM_AUDIT_HTTP_URL": "JSON bulk URL audit entries are forwarded to: OpenObserve .../api/{org}/{stream}/_json "
    "(a JSON array) or an Elasticsearch-style .../_bulk (NDJSON). Unset: no HTTP sink.",
    "ATRIUM_AUDIT_HTTP_FORMAT": "json | bulk (default: bulk when the URL ends with /_bulk, else json).",
    "ATRIUM_AUDIT_HTTP_INDEX": "bulk format: the _index of each action line (default: none, the URL's index).",
    "ATRIUM_AUDIT_HTTP_USER": "Basic auth user of the HTTP sink (with ATRIUM_AUDIT_HTTP_PASSWORD).",
    "ATRIUM_AUDIT_HTTP_PASSWORD": "Basic auth password of the HTTP sink. Secret: never logged.",
    "ATRIUM_AUDIT_HTTP_HEADERS": "Extra headers of the HTTP sink, k=v,k2=v2 (URL-encoded values). Secret.",
    "ATRIUM_AUDIT_SINK_BATCH": "Most entries one forwarding step reads and sends per sink (default 500, 1..10000): "
    "the bound of what a worker holds in memory.",
    "ATRIUM_AUDIT_SINK_INTERVAL_S": "Seconds between forwarding steps while nothing is pending (default 5).",
    "ATRIUM_AUDIT_SINK_TIMEOUT_S": "Seconds one sink request may take (default 10).",
    "ATRIUM_AUDIT_SINK_RETRY_MAX_S": "Longest wait between retries of a failing sink (default 300; doubling from "
    "the interval).",
    "ATRIUM_AUDIT_ANCHOR_FILE": "Append-only JSONL file each chain's head (account_id, seq, hash, time) is written "
    "to, once across replicas per interval; `atrium audit verify --anchors FILE` checks it. Unset: no anchoring.",
    "ATRIUM_AUDIT_ANCHOR_INTERVAL_S": "Seconds between anchors of a chain (default 3600).",
}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _limit(name: str, default: int) -> int:
    try:
        value = _int(name, default)
    except ValueError as exc:
        raise ConfigurationError(f"{name} is not a number", hint=f"set {name} to a whole number") from exc
    if value < 0:
        raise ConfigurationError(f"{name} is negative", hint=f"set {name} to 0 or more")
    return value


def redis_url_from_env() -> str | None:
    """``REDIS_URL``, else LiteLLM's ``REDIS_HOST``/``REDIS_PORT``/``REDIS_PASSWORD`` (one Redis for both)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    host = os.environ.get("REDIS_HOST")
    if not host:
        return None
    password = os.environ.get("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{os.environ.get('REDIS_PORT') or 6379}"


@dataclass(frozen=True)
class SigninLimits:
    """Sign-in throttle limits. The defaults follow LiteLLM's Admin UI login throttle (10 failures
    per address in 60 s, then 300 s blocked); attempts (no failure to count) get a looser limit,
    since an office behind one address starts SSO many times a minute on a Monday morning."""

    window_seconds: int = 60
    block_seconds: int = 300
    failures_per_address: int = 10
    failures_per_account: int = 50
    attempts_per_address: int = 60
    attempts_per_account: int = 300

    @classmethod
    def from_env(cls) -> SigninLimits:
        d = cls()
        return cls(
            window_seconds=max(_limit("ATRIUM_SIGNIN_WINDOW_SECONDS", d.window_seconds), 1),
            block_seconds=max(_limit("ATRIUM_SIGNIN_BLOCK_SECONDS", d.block_seconds), 1),
            failures_per_address=_limit("ATRIUM_SIGNIN_MAX_FAILURES_PER_ADDRESS", d.failures_per_address),
            failures_per_account=_limit("ATRIUM_SIGNIN_MAX_FAILURES_PER_ACCOUNT", d.failures_per_account),
            attempts_per_address=_limit("ATRIUM_SIGNIN_MAX_ATTEMPTS_PER_ADDRESS", d.attempts_per_address),
            attempts_per_account=_limit("ATRIUM_SIGNIN_MAX_ATTEMPTS_PER_ACCOUNT", d.attempts_per_account),
        )


@dataclass
class Settings:
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    master_key: str | None = field(default_factory=lambda: os.environ.get("LITELLM_MASTER_KEY") or None)
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("ATRIUM_DATA_DIR", ".atrium")))
    config: Path | None = field(
        default_factory=lambda: Path(os.environ["ATRIUM_CONFIG"]) if os.environ.get("ATRIUM_CONFIG") else None
    )
    host: str = field(default_factory=lambda: os.environ.get("ATRIUM_HOST", "0.0.0.0"))
    port: int = field(default_factory=lambda: _int("ATRIUM_PORT", 4000))
    workers: int = field(default_factory=lambda: _int("ATRIUM_WORKERS", 1))
    worker_healthcheck_timeout: int = field(default_factory=lambda: _int("ATRIUM_WORKER_HEALTHCHECK_TIMEOUT", 120))
    log_level: str = field(default_factory=lambda: os.environ.get("ATRIUM_LOG_LEVEL", "INFO"))
