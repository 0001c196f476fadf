"""One audit entry, its canonical form (what the chain hashes) and the redaction of secrets.

Secrets never reach the log, not even hashed in full: a field whose name says it holds a key,
token, secret, password or credential is replaced by a marker, and so is any string value that
looks like one (``sk-...`` keys, JWTs, bearer values, URLs with a token or a password). A key is
named only by its alias and the first 8 characters of its hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = [
    "REDACTED",
    "Actor",
    "AuditEntry",
    "canonical",
    "diff",
    "format_time",
    "key_ref",
    "redact",
]

REDACTED: Final = "[redacted]"
KEY_PREFIX_CHARS: Final = 8
MAX_CHANGES_CHARS: Final = 64 * 1024  # a diff larger than this is stored as its field names only

# Names of fields that hold secrets (compared lower-case; also as the end of a name: "sso_client_secret").
_SECRET_NAMES: Final = frozenset(
    {
        "key",
        "keys",
        "token",
        "tokens",
        "token_id",
        "secret",
        "password",
        "api_key",
        "credential_values",
        "authorization",
        "master_key",
        "client_secret",
        "private_key",
        "hashed_token",
        "invite_link",
        "invitation_link",
        "aws_secret_access_key",
        "cookie",
    }
)
_SECRET_SUFFIXES: Final = ("_key", "_token", "_secret", "_password", "password", "_credentials", "_keys")
# Names ending like a secret that are not one.
_NOT_SECRET: Final = frozenset({"key_alias", "key_name_alias", "sort_key", "primary_key_field"})
# Values that are secrets whatever their field is called.
_SECRET_VALUE = re.compile(
    r"^(sk-|Bearer\s|eyJ[A-Za-z0-9_-]{8,}\.)|[?&](token|key|code|secret)=|://[^/@\s]+:[^/@\s]+@", re.IGNORECASE
)


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    if lowered in _NOT_SECRET:
        return False
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_SUFFIXES)


def redact(value: Any, name: str | None = None) -> Any:
    """``value`` with every secret replaced by ``REDACTED`` (recursively; lists, dicts, scalars)."""
    if name is not None and _secret_name(name) and value is not None:
        return REDACTED
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return REDACTED
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # datetimes, decimals: their text


def key_ref(value: str) -> str:
    """How a virtual key is named in the log: its hash's first 8 characters (an ``sk-`` value is hashed first)."""
    hashed = hashlib.sha256(value.encode()).hexdigest() if value.startswith("sk-") else value
    return hashed[:KEY_PREFIX_CHARS]


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` of the fields that differ, secrets redacted on both sides."""
    before, after = before or {}, after or {}
    changed: dict[str, list[Any]] = {}
    for name in sorted(set(before) | set(after)):
        old, new = redact(before.get(name), name), redact(after.get(name), name)
        if _plain(old) != _plain(new) or (name in after and _secret_name(name) and after.get(name) is not None):
            changed[name] = [old, new]  # a secret that was sent counts as changed (its value is unknowable)
    return changed


def _plain(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def canonical(value: Any) -> str:
    """The one JSON text of ``value``: sorted keys, no spaces, UTF-8; what is stored and hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def format_time(moment: datetime) -> str:
    """Millisecond UTC text (the column is TIMESTAMP(3), so the stored time reads back the same)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str
    user_id: str | None = None
    email: str | None = None
    key_alias: str | None = None
    key_hash_prefix: str | None = None
    role: str | None = None
    acting_as: str | None = None  # the account the super admin acted as (X-Atrium-Account)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "user_id": self.user_id,
            "email": self.email,
            "key_alias": self.key_alias,
            "key_hash_prefix": self.key_hash_prefix,
            "role": self.role,
            "acting_as": self.acting_as,
        }

    @property
    def actor_id(self) -> str | None:
        """What the ``actor`` filter matches besides email and alias: the user, else the key."""
        return self.user_id or self.key_hash_prefix


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An entry before it is chained: ``account_id`` picks the chain ("" for global actions)."""

    account_id: str
    actor: Actor
    method: str
    route: str
    action: str
    object_type: str
    status_code: int
    outcome: str  # success | refused | failed
    request_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    object_ids: tuple[str, ...] = ()
    changes: dict[str, Any] = field(default_factory=dict)

    def stored_changes(self) -> str:
        text = canonical(redact(self.changes))
        if len(text) > MAX_CHANGES_CHARS:
            return canonical({"_truncated": sorted(self.changes)})
        return text
