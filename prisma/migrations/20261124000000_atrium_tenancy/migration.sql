-- Atrium tenancy: account_id on every tenant-owned LiteLLM table, and Atrium's own tables.
-- Idempotent: safe to re-run; never drops anything.

ALTER TABLE "LiteLLM_TeamTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_TeamTable_account_id_idx" ON "LiteLLM_TeamTable"("account_id");
ALTER TABLE "LiteLLM_DeletedTeamTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DeletedTeamTable_account_id_idx" ON "LiteLLM_DeletedTeamTable"("account_id");
ALTER TABLE "LiteLLM_UserTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_UserTable_account_id_idx" ON "LiteLLM_UserTable"("account_id");
ALTER TABLE "LiteLLM_TeamMembership" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_TeamMembership_account_id_idx" ON "LiteLLM_TeamMembership"("account_id");
ALTER TABLE "LiteLLM_VerificationToken" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_VerificationToken_account_id_idx" ON "LiteLLM_VerificationToken"("account_id");
ALTER TABLE "LiteLLM_DeprecatedVerificationToken" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DeprecatedVerificationToken_account_id_idx" ON "LiteLLM_DeprecatedVerificationToken"("account_id");
ALTER TABLE "LiteLLM_DeletedVerificationToken" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DeletedVerificationToken_account_id_idx" ON "LiteLLM_DeletedVerificationToken"("account_id");
ALTER TABLE "LiteLLM_JWTKeyMapping" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_JWTKeyMapping_account_id_idx" ON "LiteLLM_JWTKeyMapping"("account_id");
ALTER TABLE "LiteLLM_EndUserTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_EndUserTable_account_id_idx" ON "LiteLLM_EndUserTable"("account_id");
ALTER TABLE "LiteLLM_InvitationLink" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_InvitationLink_account_id_idx" ON "LiteLLM_InvitationLink"("account_id");
ALTER TABLE "LiteLLM_UserNotifications" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_UserNotifications_account_id_idx" ON "LiteLLM_UserNotifications"("account_id");
ALTER TABLE "LiteLLM_VerifiedSubject" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_VerifiedSubject_account_id_idx" ON "LiteLLM_VerifiedSubject"("account_id");
ALTER TABLE "LiteLLM_SSOIdentityAssertion" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_SSOIdentityAssertion_account_id_idx" ON "LiteLLM_SSOIdentityAssertion"("account_id");
ALTER TABLE "LiteLLM_OrganizationTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_OrganizationTable_account_id_idx" ON "LiteLLM_OrganizationTable"("account_id");
ALTER TABLE "LiteLLM_OrganizationMembership" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_OrganizationMembership_account_id_idx" ON "LiteLLM_OrganizationMembership"("account_id");
ALTER TABLE "LiteLLM_ProjectTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ProjectTable_account_id_idx" ON "LiteLLM_ProjectTable"("account_id");
ALTER TABLE "LiteLLM_ObjectPermissionTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ObjectPermissionTable_account_id_idx" ON "LiteLLM_ObjectPermissionTable"("account_id");
ALTER TABLE "LiteLLM_AccessGroupTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_AccessGroupTable_account_id_idx" ON "LiteLLM_AccessGroupTable"("account_id");
ALTER TABLE "LiteLLM_BudgetTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_BudgetTable_account_id_idx" ON "LiteLLM_BudgetTable"("account_id");
ALTER TABLE "LiteLLM_BudgetWindowSpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_BudgetWindowSpend_account_id_idx" ON "LiteLLM_BudgetWindowSpend"("account_id");
ALTER TABLE "LiteLLM_ModelAccessGroupBudgetTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ModelAccessGroupBudgetTable_account_id_idx" ON "LiteLLM_ModelAccessGroupBudgetTable"("account_id");
ALTER TABLE "LiteLLM_TagTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_TagTable_account_id_idx" ON "LiteLLM_TagTable"("account_id");
ALTER TABLE "LiteLLM_SpendLogs" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogs_account_id_idx" ON "LiteLLM_SpendLogs"("account_id");
ALTER TABLE "LiteLLM_ErrorLogs" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ErrorLogs_account_id_idx" ON "LiteLLM_ErrorLogs"("account_id");
ALTER TABLE "LiteLLM_SpendLogGuardrailIndex" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogGuardrailIndex_account_id_idx" ON "LiteLLM_SpendLogGuardrailIndex"("account_id");
ALTER TABLE "LiteLLM_SpendLogToolIndex" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_SpendLogToolIndex_account_id_idx" ON "LiteLLM_SpendLogToolIndex"("account_id");
ALTER TABLE "LiteLLM_DailyUserSpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyUserSpend_account_id_idx" ON "LiteLLM_DailyUserSpend"("account_id");
ALTER TABLE "LiteLLM_DailyTeamSpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyTeamSpend_account_id_idx" ON "LiteLLM_DailyTeamSpend"("account_id");
ALTER TABLE "LiteLLM_DailyOrganizationSpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyOrganizationSpend_account_id_idx" ON "LiteLLM_DailyOrganizationSpend"("account_id");
ALTER TABLE "LiteLLM_DailyEndUserSpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyEndUserSpend_account_id_idx" ON "LiteLLM_DailyEndUserSpend"("account_id");
ALTER TABLE "LiteLLM_DailyAgentSpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyAgentSpend_account_id_idx" ON "LiteLLM_DailyAgentSpend"("account_id");
ALTER TABLE "LiteLLM_DailyTagSpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyTagSpend_account_id_idx" ON "LiteLLM_DailyTagSpend"("account_id");
ALTER TABLE "LiteLLM_DailyToolSpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyToolSpend_account_id_idx" ON "LiteLLM_DailyToolSpend"("account_id");
ALTER TABLE "LiteLLM_DailyRequestErrors" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyRequestErrors_account_id_idx" ON "LiteLLM_DailyRequestErrors"("account_id");
ALTER TABLE "LiteLLM_DailyGuardrailMetrics" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyGuardrailMetrics_account_id_idx" ON "LiteLLM_DailyGuardrailMetrics"("account_id");
ALTER TABLE "LiteLLM_DailyGuardrailUsageUnits" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyGuardrailUsageUnits_account_id_idx" ON "LiteLLM_DailyGuardrailUsageUnits"("account_id");
ALTER TABLE "LiteLLM_DailyPolicyMetrics" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_DailyPolicyMetrics_account_id_idx" ON "LiteLLM_DailyPolicyMetrics"("account_id");
ALTER TABLE "LiteLLM_AuditLog" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_AuditLog_account_id_idx" ON "LiteLLM_AuditLog"("account_id");
ALTER TABLE "LiteLLM_ProxyModelTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ProxyModelTable_account_id_idx" ON "LiteLLM_ProxyModelTable"("account_id");
ALTER TABLE "LiteLLM_ModelTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ModelTable_account_id_idx" ON "LiteLLM_ModelTable"("account_id");
ALTER TABLE "LiteLLM_CredentialsTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_CredentialsTable_account_id_idx" ON "LiteLLM_CredentialsTable"("account_id");
ALTER TABLE "LiteLLM_UserProviderCredentials" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_UserProviderCredentials_account_id_idx" ON "LiteLLM_UserProviderCredentials"("account_id");
ALTER TABLE "LiteLLM_HealthCheckTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_HealthCheckTable_account_id_idx" ON "LiteLLM_HealthCheckTable"("account_id");
ALTER TABLE "LiteLLM_AgentsTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_AgentsTable_account_id_idx" ON "LiteLLM_AgentsTable"("account_id");
ALTER TABLE "LiteLLM_AgentIdentity" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_AgentIdentity_account_id_idx" ON "LiteLLM_AgentIdentity"("account_id");
ALTER TABLE "LiteLLM_RetiredAgentIdentity" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_RetiredAgentIdentity_account_id_idx" ON "LiteLLM_RetiredAgentIdentity"("account_id");
ALTER TABLE "LiteLLM_RetiredAgent" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_RetiredAgent_account_id_idx" ON "LiteLLM_RetiredAgent"("account_id");
ALTER TABLE "LiteLLM_MCPServerTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_MCPServerTable_account_id_idx" ON "LiteLLM_MCPServerTable"("account_id");
ALTER TABLE "LiteLLM_MCPToolsetTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_MCPToolsetTable_account_id_idx" ON "LiteLLM_MCPToolsetTable"("account_id");
ALTER TABLE "LiteLLM_MCPUserCredentials" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_MCPUserCredentials_account_id_idx" ON "LiteLLM_MCPUserCredentials"("account_id");
ALTER TABLE "LiteLLM_MCPUserEnvVars" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_MCPUserEnvVars_account_id_idx" ON "LiteLLM_MCPUserEnvVars"("account_id");
ALTER TABLE "LiteLLM_MCPServerOAuthClient" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_MCPServerOAuthClient_account_id_idx" ON "LiteLLM_MCPServerOAuthClient"("account_id");
ALTER TABLE "LiteLLM_GuardrailsTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_GuardrailsTable_account_id_idx" ON "LiteLLM_GuardrailsTable"("account_id");
ALTER TABLE "LiteLLM_PolicyTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_PolicyTable_account_id_idx" ON "LiteLLM_PolicyTable"("account_id");
ALTER TABLE "LiteLLM_PolicyAttachmentTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_PolicyAttachmentTable_account_id_idx" ON "LiteLLM_PolicyAttachmentTable"("account_id");
ALTER TABLE "LiteLLM_PromptTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_PromptTable_account_id_idx" ON "LiteLLM_PromptTable"("account_id");
ALTER TABLE "LiteLLM_SearchToolsTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_SearchToolsTable_account_id_idx" ON "LiteLLM_SearchToolsTable"("account_id");
ALTER TABLE "LiteLLM_ToolTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ToolTable_account_id_idx" ON "LiteLLM_ToolTable"("account_id");
ALTER TABLE "LiteLLM_SkillsTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_SkillsTable_account_id_idx" ON "LiteLLM_SkillsTable"("account_id");
ALTER TABLE "LiteLLM_ClaudeCodePluginTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ClaudeCodePluginTable_account_id_idx" ON "LiteLLM_ClaudeCodePluginTable"("account_id");
ALTER TABLE "LiteLLM_MemoryTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_MemoryTable_account_id_idx" ON "LiteLLM_MemoryTable"("account_id");
ALTER TABLE "LiteLLM_ManagedFileTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ManagedFileTable_account_id_idx" ON "LiteLLM_ManagedFileTable"("account_id");
ALTER TABLE "LiteLLM_ManagedObjectTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ManagedObjectTable_account_id_idx" ON "LiteLLM_ManagedObjectTable"("account_id");
ALTER TABLE "LiteLLM_ManagedFileContentTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ManagedFileContentTable_account_id_idx" ON "LiteLLM_ManagedFileContentTable"("account_id");
ALTER TABLE "LiteLLM_ManagedVectorStoreTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ManagedVectorStoreTable_account_id_idx" ON "LiteLLM_ManagedVectorStoreTable"("account_id");
ALTER TABLE "LiteLLM_ManagedVectorStoresTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ManagedVectorStoresTable_account_id_idx" ON "LiteLLM_ManagedVectorStoresTable"("account_id");
ALTER TABLE "LiteLLM_ManagedVectorStoreIndexTable" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ManagedVectorStoreIndexTable_account_id_idx" ON "LiteLLM_ManagedVectorStoreIndexTable"("account_id");
ALTER TABLE "LiteLLM_WorkflowRun" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_WorkflowRun_account_id_idx" ON "LiteLLM_WorkflowRun"("account_id");
ALTER TABLE "LiteLLM_WorkflowEvent" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_WorkflowEvent_account_id_idx" ON "LiteLLM_WorkflowEvent"("account_id");
ALTER TABLE "LiteLLM_WorkflowMessage" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_WorkflowMessage_account_id_idx" ON "LiteLLM_WorkflowMessage"("account_id");
ALTER TABLE "LiteLLM_BackgroundInteractionSettlement" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_BackgroundInteractionSettlement_account_id_idx" ON "LiteLLM_BackgroundInteractionSettlement"("account_id");
ALTER TABLE "LiteLLM_AutoRouterSession" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_AutoRouterSession_account_id_idx" ON "LiteLLM_AutoRouterSession"("account_id");
ALTER TABLE "LiteLLM_AutoRouterUserSession" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_AutoRouterUserSession_account_id_idx" ON "LiteLLM_AutoRouterUserSession"("account_id");
ALTER TABLE "LiteLLM_AutoRouterDailySpend" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_AutoRouterDailySpend_account_id_idx" ON "LiteLLM_AutoRouterDailySpend"("account_id");
ALTER TABLE "LiteLLM_AdaptiveRouterSession" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_AdaptiveRouterSession_account_id_idx" ON "LiteLLM_AdaptiveRouterSession"("account_id");
ALTER TABLE "LiteLLM_ShadowEvalJob" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ShadowEvalJob_account_id_idx" ON "LiteLLM_ShadowEvalJob"("account_id");
ALTER TABLE "LiteLLM_ShadowEvalAttempt" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ShadowEvalAttempt_account_id_idx" ON "LiteLLM_ShadowEvalAttempt"("account_id");
ALTER TABLE "LiteLLM_ShadowEvalFunnel" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_ShadowEvalFunnel_account_id_idx" ON "LiteLLM_ShadowEvalFunnel"("account_id");
ALTER TABLE "LiteLLM_Lens" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_Lens_account_id_idx" ON "LiteLLM_Lens"("account_id");
ALTER TABLE "LiteLLM_LensRun" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_LensRun_account_id_idx" ON "LiteLLM_LensRun"("account_id");
ALTER TABLE "LiteLLM_LensReview" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_LensReview_account_id_idx" ON "LiteLLM_LensReview"("account_id");
ALTER TABLE "LiteLLM_LensDataset" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_LensDataset_account_id_idx" ON "LiteLLM_LensDataset"("account_id");
ALTER TABLE "LiteLLM_LensSignalConfig" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_LensSignalConfig_account_id_idx" ON "LiteLLM_LensSignalConfig"("account_id");
ALTER TABLE "LiteLLM_LensTraceSignal" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_LensTraceSignal_account_id_idx" ON "LiteLLM_LensTraceSignal"("account_id");
ALTER TABLE "LiteLLM_LensIngestionKey" ADD COLUMN IF NOT EXISTS "account_id" TEXT;
CREATE INDEX IF NOT EXISTS "LiteLLM_LensIngestionKey_account_id_idx" ON "LiteLLM_LensIngestionKey"("account_id");

CREATE TABLE IF NOT EXISTS "Atrium_Account" (
    "account_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'active',
    "settings" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_Account_pkey" PRIMARY KEY ("account_id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "Atrium_Account_slug_key" ON "Atrium_Account"("slug");
CREATE INDEX IF NOT EXISTS "Atrium_Account_status_idx" ON "Atrium_Account"("status");
DO $$ BEGIN
    ALTER TABLE "Atrium_Account" ADD CONSTRAINT "Atrium_Account_status_check"
        CHECK ("status" IN ('active', 'suspended', 'deleted'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE TABLE IF NOT EXISTS "Atrium_AccountDomain" (
    "domain" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Atrium_AccountDomain_pkey" PRIMARY KEY ("domain")
);
CREATE INDEX IF NOT EXISTS "Atrium_AccountDomain_account_id_idx" ON "Atrium_AccountDomain"("account_id");

CREATE TABLE IF NOT EXISTS "Atrium_AccountAdmin" (
    "id" TEXT NOT NULL,
    "account_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'admin',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    CONSTRAINT "Atrium_AccountAdmin_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "Atrium_AccountAdmin_account_id_user_id_key" ON "Atrium_AccountAdmin"("account_id", "user_id");
CREATE INDEX IF NOT EXISTS "Atrium_AccountAdmin_account_id_idx" ON "Atrium_AccountAdmin"("account_id");
CREATE INDEX IF NOT EXISTS "Atrium_AccountAdmin_user_id_idx" ON "Atrium_AccountAdmin"("user_id");
