-- A plan's monthly tokens (extensions/budgets/tokens.py): one row per account and calendar month
-- (UTC). Idempotent: safe to re-run; never drops anything.
CREATE TABLE IF NOT EXISTS "Atrium_TokenUsage" (
    "account_id" TEXT NOT NULL,
    "month_start" TIMESTAMP(3) NOT NULL,
    "tokens" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_TokenUsage_pkey" PRIMARY KEY ("account_id", "month_start")
);
CREATE INDEX IF NOT EXISTS "Atrium_TokenUsage_account_id_idx" ON "Atrium_TokenUsage"("account_id");
