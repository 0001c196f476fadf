-- Audit sinks and anchoring (extensions/audit/sinks.py, extensions/audit/anchors.py): per sink and
-- per account chain, the last entry (seq, hash) forwarded to the sink (or written to the anchor
-- file, sink 'anchor'). The log stays the record: a sink that is down just leaves its cursor behind,
-- and forwarding resumes from it after a restart (at-least-once delivery).
-- Idempotent: safe to re-run; never drops anything.

CREATE TABLE IF NOT EXISTS "Atrium_AuditSinkCursor" (
    "sink" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "seq" BIGINT NOT NULL DEFAULT 0,
    "hash" TEXT NOT NULL DEFAULT '',
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_AuditSinkCursor_pkey" PRIMARY KEY ("sink", "account_id")
);
CREATE INDEX IF NOT EXISTS "Atrium_AuditSinkCursor_account_id_idx" ON "Atrium_AuditSinkCursor"("account_id");
