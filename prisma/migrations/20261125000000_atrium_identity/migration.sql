-- Atrium identity: per-account OIDC config, one-time login states, invitations.
-- Idempotent: safe to re-run; never drops anything.

CREATE TABLE IF NOT EXISTS "Atrium_OidcConfig" (
    "account_id" TEXT NOT NULL,
    "issuer" TEXT NOT NULL,
    "discovery_url" TEXT,
    "client_id" TEXT NOT NULL,
    "client_secret_enc" TEXT NOT NULL,
    "scopes" TEXT NOT NULL DEFAULT 'openid email profile',
    "allowed_domains" JSONB NOT NULL DEFAULT '[]',
    "role_claim" TEXT NOT NULL DEFAULT 'groups',
    "admin_values" JSONB NOT NULL DEFAULT '[]',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "super_admin_trusted" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_by" TEXT,
    CONSTRAINT "Atrium_OidcConfig_pkey" PRIMARY KEY ("account_id")
);
CREATE INDEX IF NOT EXISTS "Atrium_OidcConfig_account_id_idx" ON "Atrium_OidcConfig"("account_id");

CREATE TABLE IF NOT EXISTS "Atrium_LoginState" (
    "state" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "nonce" TEXT NOT NULL,
    "code_verifier" TEXT NOT NULL,
    "redirect_uri" TEXT NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_LoginState_pkey" PRIMARY KEY ("state")
);
CREATE INDEX IF NOT EXISTS "Atrium_LoginState_account_id_idx" ON "Atrium_LoginState"("account_id");
CREATE INDEX IF NOT EXISTS "Atrium_LoginState_expires_at_idx" ON "Atrium_LoginState"("expires_at");

CREATE TABLE IF NOT EXISTS "Atrium_Invitation" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'member',
    "expires_at" TIMESTAMP(3) NOT NULL,
    "accepted_at" TIMESTAMP(3),
    "accepted_user_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    CONSTRAINT "Atrium_Invitation_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "Atrium_Invitation_token_hash_key" ON "Atrium_Invitation"("token_hash");
CREATE INDEX IF NOT EXISTS "Atrium_Invitation_account_id_idx" ON "Atrium_Invitation"("account_id");
DO $$ BEGIN
    ALTER TABLE "Atrium_Invitation" ADD CONSTRAINT "Atrium_Invitation_role_check"
        CHECK ("role" IN ('admin', 'member'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
