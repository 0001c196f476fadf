"""Per-account RPM and TPM across every worker and replica, on top of LiteLLM's per-key limits.

Fixed 60-second windows in Redis: ``atrium:rl:{<account>}:<window>:rpm`` counts the account's
admitted requests, ``...:tpm`` the tokens its answered requests used (the real totals, known after
success). Admission is one Lua script (add this worker's tokens not yet sent, read the token count,
check and count the request), so every worker of every replica shares one count and a request costs
one Redis round trip. A success's tokens wait in the worker until its next admission of the account
carries them, or at most ``FLUSH_SECONDS`` (one pipeline for every account), so other workers see
them that much later: a TPM limit may be passed by what the account's requests used in that time.
Past a limit the request gets LiteLLM's own rate-limit refusal (429 with ``Retry-After``,
``extensions.litellm.rate_limit_error``).

When Redis fails, each worker keeps serving with in-memory windows of the same limits (so the
limits then hold per worker, not per account), logs one warning per outage, and asks Redis again
at most every ``retry_seconds`` so a down Redis does not add a timeout to every request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from extensions import litellm
from extensions.budgets.plans import Entitlements, entitlements_of
from extensions.settings import redis_url_from_env

__all__ = ["WINDOW_SECONDS", "AccountRateLimits", "account_rate_limits", "admit_request", "record_usage"]

log = logging.getLogger("atrium.budgets.rate_limits")

WINDOW_SECONDS = 60
KEY_PREFIX = "atrium:rl"
REDIS_TIMEOUT_SECONDS = 0.5  # a hanging Redis costs one request this much, then the local windows serve
FLUSH_SECONDS = 1.0  # the longest a success's tokens wait in the worker before Redis has them

# KEYS: request counter, token counter. ARGV: rpm limit, tpm limit (-1: none), key TTL, tokens this
# worker recorded and has not sent yet (added first). Returns {0, 0} when admitted (and counted),
# {1, count} over the RPM, {2, tokens} over the TPM. A refused request is not counted, so a client
# retrying after Retry-After is not penalised.
_ADMIT_LUA = """
local pending = tonumber(ARGV[4])
if pending > 0 then
  redis.call('INCRBY', KEYS[2], pending)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
local tpm = tonumber(ARGV[2])
if tpm >= 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= tpm then return {2, used} end
end
local rpm = tonumber(ARGV[1])
if rpm >= 0 then
  local count = tonumber(redis.call('GET', KEYS[1]) or '0')
  if count >= rpm then return {1, count} end
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {0, 0}
"""


class _LocalWindows:
    """This worker's counts for the current window only (the fallback while Redis is down)."""

    def __init__(self) -> None:
        self.window = -1
        self.counts: dict[str, int] = {}

    def _roll(self, window: int) -> None:
        if window != self.window:
            self.window, self.counts = window, {}

    def admit(self, window: int, rpm_key: str, tpm_key: str, rpm: int, tpm: int) -> int:
        """The script's verdict, on this worker's counts."""
        self._roll(window)
        if tpm >= 0 and self.counts.get(tpm_key, 0) >= tpm:
            return 2
        if rpm >= 0:
            count = self.counts.get(rpm_key, 0)
            if count >= rpm:
                return 1
            self.counts[rpm_key] = count + 1
        return 0

    def add_tokens(self, window: int, tpm_key: str, tokens: int) -> None:
        if window < self.window:
            return  # a past window's tokens limit nothing any more
        self._roll(window)
        self.counts[tpm_key] = self.counts.get(tpm_key, 0) + tokens


def _as_limit(value: float | None) -> int:
    return -1 if value is None else int(value)


class AccountRateLimits:
    """One per worker."""

    def __init__(
        self, redis_url: str | None, *, retry_seconds: float = 3.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis_url = redis_url
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._redis: Any = None
        self._admit_script: Any = None
        self._local = _LocalWindows()
        # Tokens of successes not in Redis yet, per (account, window); sent by the account's next
        # admission on this worker or by the flush, whichever comes first.
        self._pending: Counter[tuple[str, int]] = Counter()
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None  # held: the loop keeps only weak references
        self._retry_at = 0.0  # monotonic time before which Redis is not asked again
        self.outage = False  # Redis failed and has not answered since

    @staticmethod
    def keys(account_id: str, window: int) -> tuple[str, str]:
        base = f"{KEY_PREFIX}:{{{account_id}}}:{window}"  # hash tag: both keys in one cluster slot
        return f"{base}:rpm", f"{base}:tpm"

    def _client(self, url: str) -> Any:
        if self._redis is None:
            import redis.asyncio as redis

            self._redis = redis.from_url(
                url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
            )
            self._admit_script = self._redis.register_script(_ADMIT_LUA)  # EVALSHA, loading it when missing
        return self._redis

    async def _shared(self, call: Callable[[Any], Awaitable[Any]]) -> Any:
        """One Redis call; None without Redis, while it is down, or when the call fails."""
        url = self.redis_url
        if url is None or time.monotonic() < self._retry_at:
            return None
        from redis.exceptions import RedisError

        try:
            result = await call(self._client(url))
        except (RedisError, OSError, TimeoutError) as exc:
            self._retry_at = time.monotonic() + self.retry_seconds
            if not self.outage:
                self.outage = True
                log.warning(
                    "redis unreachable: per-account rate limits now held by each worker until it answers",
                    extra={"error": str(exc)[:200]},
                )
            return None
        if self.outage:
            self.outage = False
            log.warning("redis answers again: per-account rate limits shared across replicas again")
        return result

    async def admit(self, account_id: str, limits: Entitlements) -> None:
        """Count one request of the account, or refuse it (LiteLLM's 429) past its RPM or TPM."""
        rpm, tpm = _as_limit(limits.limit("rpm")), _as_limit(limits.limit("tpm"))
        if rpm < 0 and tpm < 0:
            return
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        rpm_key, tpm_key = self.keys(account_id, window)
        pending = self._pending.pop((account_id, window), 0)
        args = [rpm, tpm, 2 * WINDOW_SECONDS, pending]
        shared = await self._shared(lambda r: self._admit_script(keys=[rpm_key, tpm_key], args=args, client=r))
        if shared is not None:
            verdict = int(shared[0])
        else:
            self._local.add_tokens(window, tpm_key, pending)  # Redis is down: this worker counts them
            verdict = self._local.admit(window, rpm_key, tpm_key, rpm, tpm)
        if verdict:
            raise self._refusal(account_id, now, window, "requests" if verdict == 1 else "tokens", rpm, tpm)

    async def record_tokens(self, account_id: str, tokens: int) -> None:
        """Add the tokens an answered request used to the account's current window: held here until
        the account's next admission carries them to Redis, or the flush (``FLUSH_SECONDS``)."""
        if tokens <= 0:
            return
        self._pending[(account_id, int(self._clock() // WINDOW_SECONDS))] += tokens
        if self.redis_url is None:
            await self.flush()  # no Redis: straight into this worker's windows
        elif self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._start_flush)

    def _start_flush(self) -> None:
        self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Send every held token count to Redis in one pipeline (to this worker's windows when it fails)."""
        self._flush = None
        held, self._pending = self._pending, Counter()
        if not held:
            return

        async def add(r: Any) -> Any:
            async with r.pipeline(transaction=False) as pipe:
                for (account_id, window), tokens in held.items():
                    _, tpm_key = self.keys(account_id, window)
                    pipe.incrby(tpm_key, tokens)
                    pipe.expire(tpm_key, 2 * WINDOW_SECONDS)
                return await pipe.execute()

        if await self._shared(add) is None:
            for (account_id, window), tokens in held.items():
                self._local.add_tokens(window, self.keys(account_id, window)[1], tokens)

    @staticmethod
    def _refusal(account_id: str, now: float, window: int, kind: str, rpm: int, tpm: int) -> Exception:
        reset = (window + 1) * WINDOW_SECONDS
        reset_at = datetime.fromtimestamp(reset, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        limit = rpm if kind == "requests" else tpm
        # LiteLLM's v3 limiter's wording (parallel_request_limiter_v3.py), with the account as descriptor.
        detail = (
            f"Rate limit exceeded for account: {account_id}. Limit type: {kind}. "
            f"Current limit: {limit}, Remaining: 0. Limit resets at: {reset_at}"
        )
        retry_after = max(1, math.ceil(reset - now))
        return litellm.rate_limit_error(
            detail, retry_after=retry_after, reset_at=reset_at, limit_type=kind, descriptor="account"
        )


_limits: AccountRateLimits | None = None


def account_rate_limits() -> AccountRateLimits:
    """This worker's limiter, on ``REDIS_URL`` (or LiteLLM's REDIS_HOST settings)."""
    global _limits
    if _limits is None:
        _limits = AccountRateLimits(redis_url_from_env())
    return _limits


async def admit_request(account_id: str) -> None:
    """The pre-call admission: nothing to do (no Redis call) for an account without RPM/TPM."""
    limits = await entitlements_of(account_id)
    if limits.limit("rpm") is not None or limits.limit("tpm") is not None:
        await account_rate_limits().admit(account_id, limits)


async def record_usage(account_id: str, tokens: int) -> None:
    """After success: count the request's tokens when the account has a TPM limit."""
    if (await entitlements_of(account_id)).limit("tpm") is not None:
        await account_rate_limits().record_tokens(account_id, tokens)
