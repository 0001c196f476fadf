-- Per-account gateway request counts: what the proxy answered on LLM, MCP and A2A routes, per
-- account, day, category, route and HTTP status (LiteLLM's LiteLLM_DailyGatewayRequests has no
-- account dimension). Written by additive upserts from every worker (extensions/observability).
-- Idempotent: safe to re-run; never drops anything.
CREATE TABLE IF NOT EXISTS "Atrium_DailyGatewayRequests" (
    "account_id" TEXT NOT NULL,
    "date" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "route" TEXT NOT NULL,
    "status_code" INTEGER NOT NULL,
    "requests" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_DailyGatewayRequests_pkey" PRIMARY KEY ("account_id", "date", "category", "route", "status_code")
);
CREATE INDEX IF NOT EXISTS "Atrium_DailyGatewayRequests_account_id_idx" ON "Atrium_DailyGatewayRequests"("account_id");
CREATE INDEX IF NOT EXISTS "Atrium_DailyGatewayRequests_date_idx" ON "Atrium_DailyGatewayRequests"("date");
