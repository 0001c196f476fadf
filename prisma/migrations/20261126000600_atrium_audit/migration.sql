-- Audit log (extensions/audit/): one entry per state-changing request that succeeded or was
-- refused, per account a hash chain (each entry's hash commits to the previous one), and a head
-- row per account that appends serialize on (SELECT ... FOR UPDATE) and that keeps the pruning
-- checkpoint (the last pruned entry's seq and hash), so verification still starts somewhere known.
-- account_id '' is the chain of the super admin's actions that touched no account.
-- JSON parts are stored as TEXT: the exact canonical text that was hashed (JSONB would reformat it).
-- Idempotent: safe to re-run; never drops anything.

CREATE TABLE IF NOT EXISTS "Atrium_AuditLog" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "time" TIMESTAMP(3) NOT NULL,
    "request_id" TEXT,
    "actor_kind" TEXT NOT NULL,
    "actor_id" TEXT,
    "actor" TEXT NOT NULL,
    "source_ip" TEXT,
    "user_agent" TEXT,
    "method" TEXT NOT NULL,
    "route" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "object_type" TEXT NOT NULL,
    "object_ids" TEXT NOT NULL,
    "changes" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "status_code" INTEGER NOT NULL,
    "prev_hash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    CONSTRAINT "Atrium_AuditLog_pkey" PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "Atrium_AuditLog_account_id_idx" ON "Atrium_AuditLog"("account_id");
-- Not unique on purpose: verification names a second row with a taken seq as inserted.
CREATE INDEX IF NOT EXISTS "Atrium_AuditLog_account_id_seq_idx" ON "Atrium_AuditLog"("account_id", "seq");
CREATE INDEX IF NOT EXISTS "Atrium_AuditLog_account_id_time_id_idx" ON "Atrium_AuditLog"("account_id", "time", "id");
CREATE INDEX IF NOT EXISTS "Atrium_AuditLog_time_id_idx" ON "Atrium_AuditLog"("time", "id");

CREATE TABLE IF NOT EXISTS "Atrium_AuditHead" (
    "account_id" TEXT NOT NULL,
    "seq" BIGINT NOT NULL DEFAULT 0,
    "hash" TEXT NOT NULL DEFAULT '',
    "pruned_seq" BIGINT NOT NULL DEFAULT 0,
    "pruned_hash" TEXT NOT NULL DEFAULT '',
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_AuditHead_pkey" PRIMARY KEY ("account_id")
);
CREATE INDEX IF NOT EXISTS "Atrium_AuditHead_account_id_idx" ON "Atrium_AuditHead"("account_id");
