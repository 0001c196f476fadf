-- Budget threshold alerts (extensions/budgets/alerts.py): one row per threshold an account's
-- period spend crossed (the primary key is the claim: the first INSERT wins, across replicas),
-- an outbox of deliveries (webhook, email) taken by workers with FOR UPDATE SKIP LOCKED, and each
-- account's destinations (the webhook secret is encrypted with LiteLLM's helper).
-- Idempotent: safe to re-run; never drops anything.

CREATE TABLE IF NOT EXISTS "Atrium_BudgetAlert" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "period_start" TIMESTAMP(3) NOT NULL,
    "period_end" TIMESTAMP(3) NOT NULL,
    "threshold" DOUBLE PRECISION NOT NULL,
    "spend" DOUBLE PRECISION NOT NULL,
    "max_budget" DOUBLE PRECISION NOT NULL,
    "fired_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_BudgetAlert_pkey" PRIMARY KEY ("account_id", "period_start", "threshold")
);
CREATE UNIQUE INDEX IF NOT EXISTS "Atrium_BudgetAlert_id_key" ON "Atrium_BudgetAlert"("id");
CREATE INDEX IF NOT EXISTS "Atrium_BudgetAlert_account_id_idx" ON "Atrium_BudgetAlert"("account_id");

CREATE TABLE IF NOT EXISTS "Atrium_AlertDelivery" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "alert_id" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_status_code" INTEGER,
    "last_error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivered_at" TIMESTAMP(3),
    CONSTRAINT "Atrium_AlertDelivery_pkey" PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "Atrium_AlertDelivery_account_id_idx" ON "Atrium_AlertDelivery"("account_id");
CREATE INDEX IF NOT EXISTS "Atrium_AlertDelivery_status_next_attempt_at_idx"
    ON "Atrium_AlertDelivery"("status", "next_attempt_at");
CREATE INDEX IF NOT EXISTS "Atrium_AlertDelivery_alert_id_idx" ON "Atrium_AlertDelivery"("alert_id");
DO $$ BEGIN
    ALTER TABLE "Atrium_AlertDelivery" ADD CONSTRAINT "Atrium_AlertDelivery_channel_check"
        CHECK ("channel" IN ('webhook', 'email'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
DO $$ BEGIN
    ALTER TABLE "Atrium_AlertDelivery" ADD CONSTRAINT "Atrium_AlertDelivery_status_check"
        CHECK ("status" IN ('pending', 'delivered', 'failed'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE TABLE IF NOT EXISTS "Atrium_BudgetAlertConfig" (
    "account_id" TEXT NOT NULL,
    "webhook_url" TEXT,
    "webhook_secret_enc" TEXT,
    "emails" JSONB NOT NULL DEFAULT '[]',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_by" TEXT,
    CONSTRAINT "Atrium_BudgetAlertConfig_pkey" PRIMARY KEY ("account_id")
);
CREATE INDEX IF NOT EXISTS "Atrium_BudgetAlertConfig_account_id_idx" ON "Atrium_BudgetAlertConfig"("account_id");
