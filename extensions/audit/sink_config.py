"""The operator's audit sink and anchoring settings, read from the environment (docs/audit.md;
`extensions.settings.ENV_VARS` says what each variable means).

Headers and passwords are secrets: they live in :class:`SinkTarget` fields that ``repr`` leaves
out, and nothing here or in the forwarder logs them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

import httpx

from extensions.errors import ConfigurationError

__all__ = ["MAX_BATCH", "SinkSettings", "SinkTarget"]

MAX_BATCH: Final = 10_000


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} is not a number", hint=f"set {name} to a number") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name} is out of range", hint=f"set {name} between {low:g} and {high:g}")
    return value


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Not echoed: the URL may carry credentials.
        raise ConfigurationError(f"{name} is not an http(s) URL", hint=f"set {name} to http(s)://host[:port]/path")
    return raw


def _headers(env: Mapping[str, str], name: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in env.get(name, "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"{name} is not a list of k=v", hint=f"set {name} to k=v,k2=v2")
        found[key.strip()] = unquote(value.strip())
    return found


@dataclass(frozen=True)
class SinkTarget:
    name: str  # the cursor's key: "otlp" | "http"
    url: str = field(repr=False)  # may carry credentials in its query
    encoding: str  # otlp | json | bulk
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    auth: tuple[str, str] | None = field(default=None, repr=False)
    index: str | None = None

    def client_auth(self) -> httpx.BasicAuth | None:
        return httpx.BasicAuth(*self.auth) if self.auth else None


@dataclass(frozen=True)
class SinkSettings:
    targets: tuple[SinkTarget, ...] = ()
    batch: int = 500
    interval_s: float = 5.0
    timeout_s: float = 10.0
    retry_max_s: float = 300.0
    anchor_file: Path | None = None
    anchor_interval_s: float = 3600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SinkSettings:
        env = os.environ if env is None else env
        d = cls()
        targets: list[SinkTarget] = []
        if otlp := _url(env, "ATRIUM_AUDIT_OTLP_ENDPOINT"):
            targets.append(SinkTarget("otlp", otlp, "otlp", _headers(env, "ATRIUM_AUDIT_OTLP_HEADERS")))
        if http := _url(env, "ATRIUM_AUDIT_HTTP_URL"):
            encoding = env.get("ATRIUM_AUDIT_HTTP_FORMAT", "").strip().lower()
            encoding = encoding or ("bulk" if urlsplit(http).path.rstrip("/").endswith("/_bulk") else "json")
            if encoding not in ("json", "bulk"):
                raise ConfigurationError("ATRIUM_AUDIT_HTTP_FORMAT is not json or bulk", hint="json | bulk")
            user, password = env.get("ATRIUM_AUDIT_HTTP_USER", ""), env.get("ATRIUM_AUDIT_HTTP_PASSWORD", "")
            headers = _headers(env, "ATRIUM_AUDIT_HTTP_HEADERS")
            index = env.get("ATRIUM_AUDIT_HTTP_INDEX", "").strip() or None
            targets.append(SinkTarget("http", http, encoding, headers, (user, password) if user else None, index))
        anchor = env.get("ATRIUM_AUDIT_ANCHOR_FILE", "").strip()
        return cls(
            targets=tuple(targets),
            batch=int(_number(env, "ATRIUM_AUDIT_SINK_BATCH", d.batch, 1, MAX_BATCH)),
            interval_s=_number(env, "ATRIUM_AUDIT_SINK_INTERVAL_S", d.interval_s, 0.05, 86_400),
            timeout_s=_number(env, "ATRIUM_AUDIT_SINK_TIMEOUT_S", d.timeout_s, 0.1, 600),
            retry_max_s=_number(env, "ATRIUM_AUDIT_SINK_RETRY_MAX_S", d.retry_max_s, 0.05, 86_400),
            anchor_file=Path(anchor) if anchor else None,
            anchor_interval_s=_number(env, "ATRIUM_AUDIT_ANCHOR_INTERVAL_S", d.anchor_interval_s, 0.05, 30 * 86_400),
        )
