"""Per-worker runtime state built by the lifespan: pools and flags, one instance per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from extensions.errors import AtriumError

__all__ = ["Runtime", "runtime"]


@dataclass
class Runtime:
    started: bool = False
    prisma_wrapped: bool = False
    pool: Any = None  # asyncpg.Pool, once started with a database
    bus: Any = None  # InvalidationBus
    resolver: Any = None  # TenantResolver
    accounts: Any = None  # AccountStore
    budgets: Any = None  # BudgetAdmission
    budget_settings: Any = None  # BudgetSettingsStore
    budget_alerts: Any = None  # BudgetAlerts: the ledger calls settled(), its loop sends
    monthly_tokens: Any = None  # MonthlyTokens: the plan's tokens_monthly

    def require_pool(self, feature: str) -> Any:
        """The asyncpg pool, or a clear error naming the feature that needs it."""
        if self.pool is None:
            raise AtriumError(f"{feature} need a database", hint="set DATABASE_URL")
        return self.pool


runtime = Runtime()
