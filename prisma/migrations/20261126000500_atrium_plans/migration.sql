-- Plans (named limits and feature flags) and the plan each account is on, with its overrides
-- (extensions/budgets/plans.py). A plan with account_id NULL can be given to any account; one with
-- an account_id is that account's private plan. Idempotent: safe to re-run; never drops anything.
CREATE TABLE IF NOT EXISTS "Atrium_Plan" (
    "plan_id" TEXT NOT NULL,
    "account_id" TEXT,
    "name" TEXT NOT NULL,
    "limits" JSONB NOT NULL DEFAULT '{}'::jsonb,
    "features" JSONB NOT NULL DEFAULT '{}'::jsonb,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_Plan_pkey" PRIMARY KEY ("plan_id")
);
CREATE INDEX IF NOT EXISTS "Atrium_Plan_account_id_idx" ON "Atrium_Plan"("account_id");

CREATE TABLE IF NOT EXISTS "Atrium_AccountPlan" (
    "account_id" TEXT NOT NULL,
    "plan_id" TEXT NOT NULL,
    "overrides" JSONB NOT NULL DEFAULT '{}'::jsonb,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_by" TEXT,
    CONSTRAINT "Atrium_AccountPlan_pkey" PRIMARY KEY ("account_id")
);
CREATE INDEX IF NOT EXISTS "Atrium_AccountPlan_plan_id_idx" ON "Atrium_AccountPlan"("plan_id");
