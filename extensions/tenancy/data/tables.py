"""Every LiteLLM table, classified once: tenant-owned, global or system.

- ``TENANT``: rows belong to exactly one account. The table gets ``account_id`` + an
  index (``scripts/sync_schema.py`` adds them to the root schema, the migration adds
  the columns) and the scoped Prisma wrapper filters and stamps it.
- ``GLOBAL``: shared configuration owned by the super admin; tenant principals may read
  only what the route policy allows, never write.
- ``SYSTEM``: infrastructure state or cross-tenant aggregates with no tenant dimension;
  only LiteLLM's own background jobs and super admins touch them.

``tests/tenancy/test_tables.py`` fails when LiteLLM's schema has a table that is not
listed here, so an upgrade that adds one cannot slip through unclassified.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

__all__ = ["TABLES", "TableClass", "litellm_models", "tables_of"]


class TableClass(StrEnum):
    TENANT = "tenant"
    GLOBAL = "global"
    SYSTEM = "system"


_T, _G, _S = TableClass.TENANT, TableClass.GLOBAL, TableClass.SYSTEM

TABLES: dict[str, tuple[TableClass, str]] = {
    # Identity and hierarchy: Account > Team > User > Key.
    "LiteLLM_TeamTable": (_T, "teams belong to one account"),
    "LiteLLM_DeletedTeamTable": (_T, "audit copy of a deleted team"),
    "LiteLLM_UserTable": (_T, "users belong to one account"),
    "LiteLLM_TeamMembership": (_T, "user-in-team budget rows"),
    "LiteLLM_VerificationToken": (_T, "virtual keys"),
    "LiteLLM_DeprecatedVerificationToken": (_T, "grace-period copies of rotated keys"),
    "LiteLLM_DeletedVerificationToken": (_T, "audit copy of a deleted key"),
    "LiteLLM_JWTKeyMapping": (_T, "JWT subject to key mapping"),
    "LiteLLM_EndUserTable": (_T, "customers (end users) of an account's apps"),
    "LiteLLM_InvitationLink": (_T, "invitations into an account"),
    "LiteLLM_UserNotifications": (_T, "notifications for an account's users"),
    "LiteLLM_VerifiedSubject": (_T, "verified identities of an account's users"),
    "LiteLLM_SSOIdentityAssertion": (_T, "SSO assertions of an account's users"),
    "LiteLLM_OrganizationTable": (_T, "enterprise organisations, kept inside one account"),
    "LiteLLM_OrganizationMembership": (_T, "organisation membership"),
    "LiteLLM_ProjectTable": (_T, "projects under an account's teams"),
    "LiteLLM_ObjectPermissionTable": (_T, "MCP/vector-store permissions of keys, teams, users"),
    "LiteLLM_AccessGroupTable": (_T, "model/MCP access groups defined by an account"),
    # Budgets and spend.
    "LiteLLM_BudgetTable": (_T, "budgets attached to an account's keys, teams, users"),
    "LiteLLM_BudgetWindowSpend": (_T, "rolling-window spend of an account's entities"),
    "LiteLLM_ModelAccessGroupBudgetTable": (_T, "per-access-group budgets"),
    "LiteLLM_TagTable": (_T, "tags and tag budgets are defined per account"),
    "LiteLLM_SpendLogs": (_T, "per-request spend: what tenants are billed from"),
    "LiteLLM_ErrorLogs": (_T, "per-request failures"),
    "LiteLLM_SpendLogGuardrailIndex": (_T, "index over an account's spend logs"),
    "LiteLLM_SpendLogToolIndex": (_T, "index over an account's spend logs"),
    "LiteLLM_DailyUserSpend": (_T, "daily spend keyed by user and api key"),
    "LiteLLM_DailyTeamSpend": (_T, "daily spend keyed by team and api key"),
    "LiteLLM_DailyOrganizationSpend": (_T, "daily spend keyed by organisation and api key"),
    "LiteLLM_DailyEndUserSpend": (_T, "daily spend keyed by end user and api key"),
    "LiteLLM_DailyAgentSpend": (_T, "daily spend keyed by agent and api key"),
    "LiteLLM_DailyTagSpend": (_T, "daily spend keyed by tag and api key"),
    "LiteLLM_DailyToolSpend": (_T, "daily tool spend keyed by api key"),
    "LiteLLM_DailyRequestErrors": (_T, "daily errors keyed by api key"),
    "LiteLLM_DailyGuardrailMetrics": (_T, "guardrail metrics of an account's guardrails"),
    "LiteLLM_DailyGuardrailUsageUnits": (_T, "guardrail usage of an account"),
    "LiteLLM_DailyPolicyMetrics": (_T, "policy metrics of an account's policies"),
    "LiteLLM_AuditLog": (_T, "LiteLLM's own audit log of an account's changes"),
    # Models, credentials and tools managed per account.
    "LiteLLM_ProxyModelTable": (_T, "model deployments; global rows have account_id NULL"),
    "LiteLLM_ModelTable": (_T, "team model aliases"),
    "LiteLLM_CredentialsTable": (_T, "provider credentials; global rows have account_id NULL"),
    "LiteLLM_UserProviderCredentials": (_T, "a user's own provider keys"),
    "LiteLLM_HealthCheckTable": (_T, "health of an account's deployments"),
    "LiteLLM_AgentsTable": (_T, "agents"),
    "LiteLLM_AgentIdentity": (_T, "agent identities"),
    "LiteLLM_RetiredAgentIdentity": (_T, "retired agent identities"),
    "LiteLLM_RetiredAgent": (_T, "retired agents"),
    "LiteLLM_MCPServerTable": (_T, "MCP servers; global rows have account_id NULL"),
    "LiteLLM_MCPToolsetTable": (_T, "MCP toolsets"),
    "LiteLLM_MCPUserCredentials": (_T, "a user's MCP credentials"),
    "LiteLLM_MCPUserEnvVars": (_T, "a user's MCP environment"),
    "LiteLLM_MCPServerOAuthClient": (_T, "OAuth clients of an account's MCP servers"),
    "LiteLLM_GuardrailsTable": (_T, "guardrails; global rows have account_id NULL"),
    "LiteLLM_PolicyTable": (_T, "policies"),
    "LiteLLM_PolicyAttachmentTable": (_T, "policy attachments"),
    "LiteLLM_PromptTable": (_T, "prompt templates"),
    "LiteLLM_SearchToolsTable": (_T, "search tools"),
    "LiteLLM_ToolTable": (_T, "tool policies keyed by key and team"),
    "LiteLLM_SkillsTable": (_T, "skills uploaded by an account"),
    "LiteLLM_ClaudeCodePluginTable": (_T, "plugins uploaded by an account"),
    "LiteLLM_MemoryTable": (_T, "memories of an account's users and teams"),
    "LiteLLM_ManagedFileTable": (_T, "files uploaded through the proxy"),
    "LiteLLM_ManagedObjectTable": (_T, "batches / fine-tunes created through the proxy"),
    "LiteLLM_ManagedFileContentTable": (_T, "content of managed files"),
    "LiteLLM_ManagedVectorStoreTable": (_T, "vector stores"),
    "LiteLLM_ManagedVectorStoresTable": (_T, "vector stores"),
    "LiteLLM_ManagedVectorStoreIndexTable": (_T, "vector store indexes"),
    "LiteLLM_WorkflowRun": (_T, "agent workflow runs"),
    "LiteLLM_WorkflowEvent": (_T, "agent workflow events"),
    "LiteLLM_WorkflowMessage": (_T, "agent workflow messages"),
    "LiteLLM_BackgroundInteractionSettlement": (_T, "background responses started by a key"),
    "LiteLLM_AutoRouterSession": (_T, "auto-router sessions keyed by api key"),
    "LiteLLM_AutoRouterUserSession": (_T, "auto-router sessions keyed by user"),
    "LiteLLM_AutoRouterDailySpend": (_T, "auto-router spend"),
    "LiteLLM_AdaptiveRouterSession": (_T, "adaptive-router sessions"),
    "LiteLLM_ShadowEvalJob": (_T, "shadow evaluations targeting an account's entities"),
    "LiteLLM_ShadowEvalAttempt": (_T, "shadow evaluation attempts"),
    "LiteLLM_ShadowEvalFunnel": (_T, "shadow evaluation funnels"),
    "LiteLLM_Lens": (_T, "Lens observability objects"),
    "LiteLLM_LensRun": (_T, "Lens runs"),
    "LiteLLM_LensReview": (_T, "Lens reviews"),
    "LiteLLM_LensDataset": (_T, "Lens datasets"),
    "LiteLLM_LensSignalConfig": (_T, "Lens signal configs"),
    "LiteLLM_LensTraceSignal": (_T, "Lens trace signals"),
    "LiteLLM_LensIngestionKey": (_T, "Lens ingestion keys are credentials"),
    # Global configuration: one per proxy, owned by the super admin.
    "LiteLLM_Config": (_G, "proxy-wide general/router/callback settings"),
    "LiteLLM_UISettings": (_G, "admin UI settings for the whole proxy"),
    "LiteLLM_ConfigOverrides": (_G, "proxy-wide config overrides"),
    "LiteLLM_CacheConfig": (_G, "proxy-wide cache settings"),
    "LiteLLM_SSOConfig": (_G, "LiteLLM's single global SSO; per-account SSO is Atrium's own"),
    # System state and cross-tenant aggregates without a tenant dimension.
    "LiteLLM_ProxyWorkerHeartbeat": (_S, "liveness of proxy workers"),
    "LiteLLM_CronJob": (_S, "leader election of background jobs"),
    "LiteLLM_TelemetryReport": (_S, "proxy telemetry"),
    "LiteLLM_LensWorker": (_S, "Lens worker leases"),
    "LiteLLM_AdaptiveRouterState": (_S, "router-wide bandit state per model"),
    "LiteLLM_AutoRouterBaselineComparison": (_S, "router-wide baseline statistics"),
    "LiteLLM_AutoRouterBaselineObservation": (_S, "router-wide baseline statistics"),
    "LiteLLM_DailyGlobalSpend": (_S, "proxy-wide aggregate by model, no tenant dimension"),
    "LiteLLM_DailyModelUsage": (_S, "proxy-wide aggregate by model, no tenant dimension"),
    "LiteLLM_DailyGatewayRequests": (_S, "proxy-wide aggregate by route, no tenant dimension"),
    "LiteLLM_DailyGatewayFailedRequests": (_S, "proxy-wide aggregate by route, no tenant dimension"),
}

_MODEL_RE = re.compile(r"^model\s+(\w+)\s*\{", re.MULTILINE)


def litellm_models(schema: Path) -> list[str]:
    """Model names declared in a Prisma schema file, in file order."""
    return _MODEL_RE.findall(schema.read_text())


def tables_of(kind: TableClass) -> list[str]:
    return [name for name, (cls, _) in TABLES.items() if cls is kind]
