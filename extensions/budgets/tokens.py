"""The plan's monthly tokens (``tokens_monthly``): counted per account and calendar month (UTC).

PostgreSQL keeps the count (``Atrium_TokenUsage``, one row per account and month). A month's row
opens with the tokens LiteLLM's spend logs already hold for it, so a limit set mid-month, or a
row lost, starts from the books rather than from zero; every success adds its tokens.

A request is admitted while the month's tokens are under the limit; the tokens of a request are
known only once it ran, so requests already in flight when the limit is reached may finish past
it, by at most their own tokens (a quota, not a reservation: the account's money is what the
budget reserves). Nothing is read or written for an account whose plan sets no token limit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import asyncpg

from extensions import litellm
from extensions.budgets.periods import db_time
from extensions.budgets.plans import entitlements_of

__all__ = ["LIMIT", "MonthlyTokens", "month_of"]

LIMIT: Final = "tokens_monthly"

_OPEN_MONTH: Final = """
INSERT INTO "Atrium_TokenUsage" (account_id, month_start, tokens)
SELECT $1, $2, coalesce(sum(total_tokens), 0) FROM "LiteLLM_SpendLogs"
WHERE account_id = $1 AND "startTime" >= $2 AND "startTime" < $3
ON CONFLICT (account_id, month_start) DO NOTHING
"""
_USED: Final = 'SELECT tokens FROM "Atrium_TokenUsage" WHERE account_id = $1 AND month_start = $2'
_ADD: Final = """
UPDATE "Atrium_TokenUsage" SET tokens = tokens + $3, updated_at = now()
WHERE account_id = $1 AND month_start = $2 RETURNING tokens
"""


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) holding ``moment``: its start and the next month's."""
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


class MonthlyTokens:
    def __init__(self, pool: asyncpg.Pool, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pool = pool
        self._clock = clock

    async def admit(self, account_id: str) -> None:
        """Refuse, in LiteLLM's budget form, once the month's tokens reached the plan's limit."""
        limit = (await entitlements_of(account_id)).limit(LIMIT)
        if limit is None:
            return
        start, end = month_of(self._clock())
        used = await self._used(account_id, start, end)
        if used >= limit:
            message = (
                "Budget has been exceeded! "
                f"Account={account_id} Monthly tokens used: {used}, Plan limit (tokens_monthly): {int(limit)}. "
                f"Resets at {end.isoformat()}."
            )
            raise litellm.budget_exceeded(
                message, current_cost=float(used), max_budget=float(limit), entity_id=account_id
            )

    async def record(self, account_id: str, tokens: int) -> None:
        """Add a success's tokens to the month, for an account whose plan counts them."""
        if tokens <= 0 or (await entitlements_of(account_id)).limit(LIMIT) is None:
            return
        start, end = month_of(self._clock())
        if await self.pool.fetchval(_ADD, account_id, db_time(start), tokens) is None:
            # No row for the month yet: open it from the spend logs, which do not hold this
            # success yet (LiteLLM writes them in batches, after the callbacks), then add it.
            await self._used(account_id, start, end)
            await self.pool.fetchval(_ADD, account_id, db_time(start), tokens)

    async def _used(self, account_id: str, start: datetime, end: datetime) -> int:
        used = await self.pool.fetchval(_USED, account_id, db_time(start))
        if used is None:
            await self.pool.execute(_OPEN_MONTH, account_id, db_time(start), db_time(end))
            used = await self.pool.fetchval(_USED, account_id, db_time(start))
        return int(used or 0)
