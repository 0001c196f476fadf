"""Sign-in throttling for Atrium's own sign-in surface (LiteLLM's ``/login`` has its own).

LiteLLM limits failed Admin UI sign-ins per source address; the surfaces Atrium adds (SSO
start and callback, the email look-up, the trusted header, invitation acceptance, LiteLLM's
onboarding links) mint sessions too, so they get the same protection: counters over a fixed
window per surface and source address AND per surface and account; past the limit the key is
refused with 429 and ``Retry-After`` before any credential is looked at.

What is counted: failures where a failure means something (a wrong invitation token, a refused
callback or trusted header), attempts where it does not (SSO start and the email look-up answer
every address alike). An account's counter holds only that account, so an attacker of one
account locks out nobody elsewhere beyond its own address. An identifier that names no account
(an unknown domain or slug) gets a counter of its own, so a 429 never tells which exist.

Counters live in Redis when configured (one Lua script: INCR, EXPIRE and the block in one step,
shared by every worker and replica) and in this worker's memory otherwise or while Redis fails.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from starlette.requests import Request

from extensions.auth.errors import IdentityError
from extensions.auth.trusted_header import trusted_proxy_networks
from extensions.errors import AtriumError
from extensions.settings import Settings, SigninLimits, redis_url_from_env

__all__ = [
    "Purpose",
    "SigninGuard",
    "SigninThrottle",
    "SigninThrottled",
    "claimed_account_key",
    "request_guard",
    "signin_guard",
    "signin_throttle",
    "source_address",
]

log = logging.getLogger("atrium.auth.throttle")

KEY_PREFIX = "atrium:signin"
UNKNOWN_SOURCE = "unknown"
IPV6_GROUP_PREFIX = 64  # one /64 is one holder: rotating inside it must not reset the count
_MAX_LOCAL_KEYS = 20_000

# KEYS: counter, block. ARGV: limit, window seconds, block seconds.
# Returns the seconds left on an existing block (nothing counted), else 0. The increment that
# reaches the limit sets the block, so the limit-th request is answered and the next is refused.
_BUMP_LUA = """
local blocked = redis.call('TTL', KEYS[2])
if blocked > 0 then return blocked end
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if count >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
end
return 0
"""


class Purpose(enum.Enum):
    """A sign-in surface, and whether it counts failures (True) or every attempt (False)."""

    RESOLVE = ("resolve", False)
    SSO_START = ("sso_start", False)
    SSO_CALLBACK = ("sso_callback", True)
    TRUSTED_HEADER = ("trusted_header", True)
    INVITATION = ("invitation", True)
    ONBOARDING = ("onboarding", True)

    @property
    def slug(self) -> str:
        return self.value[0]

    @property
    def counts_failures(self) -> bool:
        return bool(self.value[1])


class SigninThrottled(IdentityError):
    code = "too_many_signin_attempts"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many sign-in attempts. Try again later.",
            hint=f"wait {retry_after} seconds before signing in again",
        )
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def _address(raw: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address((raw or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def source_address(peer: str | None, headers: Mapping[str, str]) -> str:
    """The address a sign-in is counted against.

    The peer is what uvicorn reports (it already applied its own ``FORWARDED_ALLOW_IPS``). Atrium
    reads ``X-Forwarded-For`` further only when that peer is one of ``ATRIUM_TRUSTED_PROXIES``,
    taking the right-most hop that is not a trusted proxy: the left of the header is whatever the
    client wrote. IPv6 addresses count by their /64.
    """
    address = _address(peer)
    if address is None:
        return UNKNOWN_SOURCE
    networks = trusted_proxy_networks()
    if networks and any(address in net for net in networks):
        hops = [hop for part in headers.get("x-forwarded-for", "").split(",") if (hop := _address(part))]
        for hop in reversed(hops):
            address = hop
            if not any(hop in net for net in networks):
                break
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network((address, IPV6_GROUP_PREFIX), strict=False))
    return str(address)


def claimed_account_key(account_id: str | None, claimed: str) -> str:
    """The account's counter, or one for the identifier a caller named when it names no account
    (hashed: it is caller input), so unknown and known identifiers are limited alike."""
    if account_id:
        return account_id
    return "claimed-" + hashlib.sha256(claimed.strip().lower().encode()).hexdigest()[:32]


@dataclass
class _LocalCounters:
    """This worker's counters: the fallback without Redis (limits then hold per worker)."""

    expiry: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def _ttl(self, key: str, now: float) -> int:
        expires = self.expiry.get(key)
        if expires is None or expires <= now:
            self.expiry.pop(key, None)
            self.counts.pop(key, None)
            return 0
        return math.ceil(expires - now)

    def _prune(self, now: float) -> None:
        if len(self.expiry) < _MAX_LOCAL_KEYS:
            return
        for key in [k for k, expires in self.expiry.items() if expires <= now]:
            self.expiry.pop(key, None)
            self.counts.pop(key, None)
        while len(self.expiry) >= _MAX_LOCAL_KEYS:  # still full of live keys: drop the oldest counters
            oldest = next(iter(self.expiry))
            self.expiry.pop(oldest, None)
            self.counts.pop(oldest, None)

    def blocked(self, block_key: str) -> int:
        return self._ttl(block_key, time.time())

    def bump(self, counter: str, block: str, limit: int, window: int, block_seconds: int) -> int:
        now = time.time()
        blocked = self._ttl(block, now)
        if blocked > 0:
            return blocked
        self._prune(now)
        if self._ttl(counter, now) == 0:
            self.expiry[counter] = now + window
        count = self.counts.get(counter, 0) + 1
        self.counts[counter] = count
        if count >= limit:
            self.expiry[block] = now + block_seconds
            self.counts.pop(counter, None)
            self.expiry.pop(counter, None)
        return 0


class SigninThrottle:
    """One per worker. ``admit`` refuses a blocked key (and counts an attempt where attempts count);
    ``record_failure`` counts a failure."""

    def __init__(self, limits: SigninLimits, redis_url: str | None) -> None:
        self.limits = limits
        self.redis_url = redis_url
        self._redis: Any = None
        self._local = _LocalCounters()

    def _limit(self, purpose: Purpose, scope: str) -> int:
        if purpose.counts_failures:
            return self.limits.failures_per_address if scope == "addr" else self.limits.failures_per_account
        return self.limits.attempts_per_address if scope == "addr" else self.limits.attempts_per_account

    def _block_seconds(self, purpose: Purpose) -> int:
        # An attempt limit is a rate, not a penalty: it lifts when the window would have.
        return self.limits.block_seconds if purpose.counts_failures else self.limits.window_seconds

    @staticmethod
    def keys(purpose: Purpose, scope: str, ident: str) -> tuple[str, str]:
        base = f"{KEY_PREFIX}:{purpose.slug}:{scope}:{{{ident}}}"  # hash tag: both keys in one cluster slot
        return f"{base}:count", f"{base}:block"

    def _client(self) -> Any:
        if self._redis is None and self.redis_url:
            import redis.asyncio as redis

            # Bounded: a Redis that hangs must cost a sign-in seconds (then local counting), not minutes.
            self._redis = redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return self._redis

    async def _shared(self, call: Callable[[Any], Awaitable[Any]]) -> int | None:
        """One Redis call; None when there is no Redis or it failed (the caller then counts locally)."""
        client = self._client()
        if client is None:
            return None
        from redis.exceptions import RedisError

        try:
            return int(await call(client))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("redis failed while counting sign-ins; using this worker's counters", extra={"error": str(exc)})
            return None

    async def _bump(self, counter: str, block: str, limit: int, block_seconds: int) -> int:
        window = self.limits.window_seconds
        shared = await self._shared(lambda r: r.eval(_BUMP_LUA, 2, counter, block, limit, window, block_seconds))
        return shared if shared is not None else self._local.bump(counter, block, limit, window, block_seconds)

    async def admit(self, purpose: Purpose, scope: str, ident: str) -> None:
        limit = self._limit(purpose, scope)
        if limit == 0:
            return
        counter, block = self.keys(purpose, scope, ident)
        if purpose.counts_failures:
            shared = await self._shared(lambda r: r.ttl(block))
            blocked = max(shared or 0, self._local.blocked(block))
        else:
            blocked = await self._bump(counter, block, limit, self._block_seconds(purpose))
        if blocked > 0:
            log.warning(
                "sign-in throttled",
                extra={"purpose": purpose.slug, "scope": scope, "retry_after": blocked, "pid": os.getpid()},
            )
            raise SigninThrottled(blocked)

    async def record_failure(self, purpose: Purpose, scope: str, ident: str) -> None:
        limit = self._limit(purpose, scope)
        if limit == 0:
            return
        counter, block = self.keys(purpose, scope, ident)
        await self._bump(counter, block, limit, self._block_seconds(purpose))
        log.info("sign-in failure counted", extra={"purpose": purpose.slug, "scope": scope, "pid": os.getpid()})


_throttle: SigninThrottle | None = None


def signin_throttle() -> SigninThrottle:
    """This worker's throttle, built from the environment on first use."""
    global _throttle
    if _throttle is None:
        _throttle = SigninThrottle(SigninLimits.from_env(), redis_url_from_env())
        if _throttle.redis_url is None and Settings().workers > 1:
            log.warning("no Redis: each worker counts sign-ins on its own, so the limits hold per worker")
    return _throttle


def _is_failure(exc: BaseException | None) -> bool:
    # A refusal of the caller's input (4xx) is a failure; a 429 of ours or a broken IdP (5xx) is not.
    return isinstance(exc, AtriumError) and 400 <= exc.status < 500 and not isinstance(exc, SigninThrottled)


class SigninGuard:
    """``async with signin_guard(...)`` around one sign-in: the address is checked on entry, the
    account once the handler knows it (``await guard.account(...)``); a 4xx ``AtriumError``
    leaving the block counts a failure against both, where the purpose counts failures."""

    def __init__(self, throttle: SigninThrottle, purpose: Purpose, source: str) -> None:
        self.throttle = throttle
        self.purpose = purpose
        self.source = source
        self.account_key: str | None = None

    async def __aenter__(self) -> SigninGuard:
        await self.throttle.admit(self.purpose, "addr", self.source)
        return self

    async def account(self, key: str) -> None:
        self.account_key = key
        await self.throttle.admit(self.purpose, "account", key)

    async def failed(self) -> None:
        """Count a failure that is not raised (an answer handed on, e.g. to LiteLLM)."""
        if not self.purpose.counts_failures:
            return
        await self.throttle.record_failure(self.purpose, "addr", self.source)
        if self.account_key is not None:
            await self.throttle.record_failure(self.purpose, "account", self.account_key)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if _is_failure(exc):
            await self.failed()


def signin_guard(purpose: Purpose, peer: str | None, headers: Mapping[str, str]) -> SigninGuard:
    return SigninGuard(signin_throttle(), purpose, source_address(peer, headers))


def request_guard(purpose: Purpose, request: Request) -> SigninGuard:
    return signin_guard(purpose, request.client.host if request.client else None, request.headers)
