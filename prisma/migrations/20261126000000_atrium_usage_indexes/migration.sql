-- Usage analytics read one account's date range (extensions/routes/replacements/usage, spend_logs):
-- indexes led by account_id, named as Prisma names the schema's @@index lines
-- (extensions/db/schema_sync.py ACCOUNT_INDEXES).
-- CONCURRENTLY, so LiteLLM's spend writers keep writing while a large table is indexed; the
-- migrator runs such a file statement by statement, outside a transaction.
-- Idempotent: a build that failed half-way leaves an INVALID index, which IF NOT EXISTS would
-- keep, so invalid ones of these names are dropped first; then IF NOT EXISTS.
DO $$
DECLARE
    stale text;
BEGIN
    FOR stale IN
        SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE NOT i.indisvalid AND c.relname IN (
            'LiteLLM_DailyUserSpend_account_id_date_idx',
            'LiteLLM_DailyTeamSpend_account_id_date_idx',
            'LiteLLM_DailyTagSpend_account_id_date_idx',
            'LiteLLM_DailyEndUserSpend_account_id_date_idx',
            'LiteLLM_SpendLogs_account_id_startTime_idx'
        ) AND pg_table_is_visible(c.oid)
    LOOP
        EXECUTE format('DROP INDEX %I', stale);
    END LOOP;
END
$$;

CREATE INDEX CONCURRENTLY IF NOT EXISTS "LiteLLM_DailyUserSpend_account_id_date_idx"
    ON "LiteLLM_DailyUserSpend" ("account_id", "date");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "LiteLLM_DailyTeamSpend_account_id_date_idx"
    ON "LiteLLM_DailyTeamSpend" ("account_id", "date");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "LiteLLM_DailyTagSpend_account_id_date_idx"
    ON "LiteLLM_DailyTagSpend" ("account_id", "date");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "LiteLLM_DailyEndUserSpend_account_id_date_idx"
    ON "LiteLLM_DailyEndUserSpend" ("account_id", "date");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "LiteLLM_SpendLogs_account_id_startTime_idx"
    ON "LiteLLM_SpendLogs" ("account_id", "startTime");
