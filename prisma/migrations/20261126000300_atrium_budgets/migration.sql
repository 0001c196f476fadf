-- Account budgets (extensions/budgets/): the settings the super admin sets, one ledger row per
-- account and period (settled spend, in-flight reservations), one row per open reservation (a
-- lease, released by any worker once expired). Idempotent: safe to re-run; never drops anything.
CREATE TABLE IF NOT EXISTS "Atrium_AccountBudget" (
    "account_id" TEXT NOT NULL,
    "max_budget" DOUBLE PRECISION,
    "budget_duration" TEXT,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "thresholds" JSONB NOT NULL DEFAULT '[50, 80, 95, 100]',
    "overage_amount" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "overage_percent" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "mode" TEXT NOT NULL DEFAULT 'block',
    "anchor" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_by" TEXT,
    CONSTRAINT "Atrium_AccountBudget_pkey" PRIMARY KEY ("account_id")
);
CREATE INDEX IF NOT EXISTS "Atrium_AccountBudget_account_id_idx" ON "Atrium_AccountBudget"("account_id");

CREATE TABLE IF NOT EXISTS "Atrium_BudgetPeriod" (
    "account_id" TEXT NOT NULL,
    "period_start" TIMESTAMP(3) NOT NULL,
    "period_end" TIMESTAMP(3) NOT NULL,
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "reserved" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "requests" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_BudgetPeriod_pkey" PRIMARY KEY ("account_id", "period_start")
);
CREATE INDEX IF NOT EXISTS "Atrium_BudgetPeriod_account_id_idx" ON "Atrium_BudgetPeriod"("account_id");

CREATE TABLE IF NOT EXISTS "Atrium_BudgetReservation" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "period_start" TIMESTAMP(3) NOT NULL,
    "amount" DOUBLE PRECISION NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMP(3) NOT NULL,
    CONSTRAINT "Atrium_BudgetReservation_pkey" PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "Atrium_BudgetReservation_account_id_idx" ON "Atrium_BudgetReservation"("account_id");
CREATE INDEX IF NOT EXISTS "Atrium_BudgetReservation_expires_at_idx" ON "Atrium_BudgetReservation"("expires_at");
