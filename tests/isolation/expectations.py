"""What the isolation sweep expects where the defaults (own: 2xx, foreign: 403/404, closed: 401/403)
do not hold, route by route and principal by principal, each with its reason."""

from __future__ import annotations

from sweep import Rule

__all__ = ["CLAIMS", "EXCEPTIONS"]

MEMBERS = frozenset({"member-key", "team-key", "ui-session"})
NOT_ADMINS = MEMBERS | {"viewer"}
EVERYONE = None


def rule(variant: str, route: str, who: frozenset[str] | None, statuses: set[int], reason: str) -> Rule:
    return Rule(variant, route, who, frozenset(statuses), reason)


# The stated exceptions to the defaults (own: 2xx; foreign: 403/404; closed: 401/403), each with its
# reason. First match wins. A rule no call matches fails the sweep (stale rules are removed).
_PROVIDER_OBJECTS = (
    r"GET (/v1beta|/v1|/\{[^}]+\}/v1)?/(assistants|batches|containers|files|fine_tuning|evals|indexes|"
    r"vector_stores|videos|threads|responses|interactions|agents)(/.*)?"
)
_LITELLM_ADMIN_ONLY = (
    r"(GET|POST|PUT|DELETE) /(audit(/.*)?|budget/(list|settings)|customer/.*|end_user/.*|invitation/info|"
    r"tag/user-agent/per-user-analytics|team/filter/ui|v1/memory(/.*)?|v1/workflows/.*|api/plugins|"
    r"public/v1/model_hub/.*)"
)
EXCEPTIONS: list[Rule] = [
    # --- calls the sweep cannot fill: LiteLLM validates them before its role check ------------
    rule(
        "own",
        r"GET /end_user/daily/activity/.*",
        EVERYONE,
        {400, 422},
        "LiteLLM hides the /end_user aliases from its OpenAPI, so the sweep sends no dates (or model_group, "
        "search); LiteLLM (and the usage replacement) check them before the role",
    ),
    rule(
        "own",
        r"GET /end_user/daily/activity",
        frozenset({"admin", "viewer"}),
        {400},
        "LiteLLM reads start_date/end_date from the raw query here: the served OpenAPI does not list them",
    ),
    rule(
        "own",
        r"GET /management/v1/spend_logs/(users|end_users)",
        EVERYONE,
        {400},
        "the sweep's value is not a date: LiteLLM's required filter[startTime] bounds answer its 400 problem",
    ),
    rule(
        "own",
        r"GET /team/spend/by_user",
        EVERYONE,
        {400},
        "LiteLLM reads start_date/end_date from the raw query here: the served OpenAPI does not list them",
    ),
    # --- LiteLLM's own role checks and Atrium's admin-only routes ---------------------------
    rule("own", _LITELLM_ADMIN_ONLY, MEMBERS, {401, 403}, "LiteLLM: proxy-admin-only route, members are internal_user"),
    rule(
        "foreign",
        _LITELLM_ADMIN_ONLY,
        MEMBERS,
        {401, 403, 404, 409},
        "LiteLLM's admin-only check, or Atrium's reference check / claim conflict before it",
    ),
    rule(
        "own",
        r"GET /(atrium/(invitation/list|sso/config|audit(/export)?|metrics)|credentials(/.*)?"
        r"|account/budget/alerts(/config)?|audit(/.*)?)",
        NOT_ADMINS,
        {403},
        "Atrium: account admins only (sign-in, invitations, credentials, budget alerts, audit log and the UI's "
        "audit page (extensions/routes/replacements/audit_log.py), metrics)",
    ),
    rule("own", r"GET /account/budget", MEMBERS, {403}, "Atrium: the account's admins and viewers read its budget"),
    rule(
        "own",
        r"GET /account/entitlements",
        MEMBERS,
        {403},
        "Atrium: the account's plan is read by its admins and viewers (extensions/routes/plans.py)",
    ),
    rule(
        "own",
        r"GET /(team/list|v2/team/list|tag/list)",
        frozenset({"team-key"}),
        {401},
        "LiteLLM: a team key has no user, so no team or tag listing of its own",
    ),
    rule("own", r"GET /(user/list|team/permissions_list)", MEMBERS, {403}, "LiteLLM: proxy or team admins only"),
    rule("own", r"GET /management/v1/budgets", MEMBERS, {403}, "LiteLLM: only proxy admins list budgets"),
    rule(
        "own",
        r"GET /gateway/(daily|errors)/activity",
        MEMBERS,
        {403},
        "LiteLLM: gateway counts for proxy admin roles only (the replacement keeps its role check)",
    ),
    rule(
        "own",
        r"GET /(policies/list|policy/list|prompts/list)",
        MEMBERS,
        {401},
        "LiteLLM's route check: an admin route for internal users (the list replacement runs with the caller's key)",
    ),
    rule(
        "own",
        r"GET /(v2/)?guardrails/list",
        frozenset({"team-key"}),
        {401},
        "LiteLLM's route check: a team key has no user role for this admin route",
    ),
    rule(
        "own",
        r"GET /v1/mcp/server",
        frozenset({"team-key", "ui-session"}),
        {403},
        "LiteLLM: the sweep names the team and user of the account's member, which this caller may not view",
    ),
    rule("own", r"GET /v1/agents", EVERYONE, {200}, "the agents list replacement: the account's agents (none)"),
    rule(
        "closed",
        r"(GET|DELETE) /fallback/\{model\}",
        EVERYONE,
        {404},
        "the sweep's model is the account's internal name, with a '/': no route matches the path (LiteLLM's 404)",
    ),
    rule("own", r"GET /key/list", frozenset({"team-key"}), {403}, "LiteLLM: a team key has no user to list keys of"),
    rule(
        "own",
        r"GET /key/list",
        frozenset({"ui-session"}),
        {403},
        "LiteLLM: a UI session user outside the team may not list the team's keys",
    ),
    rule(
        "own",
        r"GET /(management/v1/users/me|v2/user/info)",
        frozenset({"team-key"}),
        {404},
        "LiteLLM: a team key has no user",
    ),
    rule(
        "own",
        r"GET /team/\{team_id\}/members/me",
        frozenset({"team-key"}),
        {400},
        "LiteLLM: a team key has no user to look up",
    ),
    rule(
        "own",
        r"GET /team/\{team_id\}/members/me",
        frozenset({"viewer", "ui-session"}),
        {404},
        "LiteLLM: the viewer and the UI user are not members of the team",
    ),
    rule(
        "own",
        r"GET /(team/info|models|v1/models)",
        frozenset({"ui-session"}),
        {403},
        "LiteLLM: the UI user is not a member of the team the sweep names",
    ),
    rule(
        "own",
        r"GET /(v1/)?models/\{model_id\}",
        frozenset({"member-key", "team-key"}),
        {404},
        "the keys are limited to the global models; the account's own model is not theirs",
    ),
    rule(
        "own",
        r"GET /(user|customer|tag)/daily/activity|GET /utils/(model_info|supported_openai_params)",
        frozenset({"member-key", "team-key"}),
        {403},
        "LiteLLM: the key may not use the account's model",
    ),
    rule(
        "own",
        r"GET /utils/supported_openai_params",
        frozenset({"ui-session"}),
        {401},
        "LiteLLM: UI session keys may call UI routes only",
    ),
    rule(
        "own",
        r"GET /user/daily/activity/(aggregated(/.*)?|export)",
        frozenset({"team-key"}),
        {403},
        "LiteLLM (and Atrium's usage replacement): a key without a user cannot query user analytics",
    ),
    rule(
        "own",
        r"GET /team/daily/activity(/.*)?",
        frozenset({"team-key", "ui-session"}),
        {404},
        "LiteLLM (and Atrium's usage replacement): a non-admin reads its own user's teams only; the team key "
        "has no user, the UI user is not in the team the sweep names",
    ),
    # --- objects the sweep has none of ------------------------------------------------------
    rule(
        "own",
        _PROVIDER_OBJECTS,
        EVERYONE,
        {404},
        "provider objects need one of the account's deployments selected (provider_objects.py); none sent",
    ),
    rule(
        "own",
        r"GET /(audit|v1/memory|v1/workflows/runs)/.*",
        frozenset({"admin", "viewer"}),
        {404},
        "the audit entry the sweep names is not one of the account's (the replacement reads Atrium's log); the "
        "account has no memory or workflow run to read",
    ),
    rule("own", r"GET /atrium/sso/config", frozenset({"admin"}), {404}, "the account has no SSO configured"),
    rule(
        "own",
        r"GET /user/info",
        frozenset({"team-key"}),
        {403},
        "a team key has no user of its own; the user id the sweep names is another user's (LiteLLM: 403 too)",
    ),
    rule(
        "own",
        r"GET /utils/model_info",
        EVERYONE,
        {404},
        "the account's model is openai/gpt-fake, which LiteLLM's cost map does not know",
    ),
    rule(
        "own",
        r"GET /(end_user/info|invitation/info|onboarding/get_token|spend/logs/session/ui)",
        EVERYONE,
        {422},
        "a required parameter the account has no value of (LiteLLM's validation)",
    ),
    # --- public routes: what they answer a caller that is not in that flow ---------------------
    rule(
        "*",
        r"GET /\.well-known/oauth-(authorization-server|protected-resource)/.*\{.*",
        EVERYONE,
        {404},
        "no MCP server of that name",
    ),
    rule(
        "own",
        r"GET /(claude_code_gateway/\.well-known/.*|oauth/client-metadata\.json|health/drain|robots\.txt|"
        r"sso/debug/.*)",
        EVERYONE,
        {404},
        "not configured on the test gateway",
    ),
    rule("own", r"GET /sso/saml/.*", EVERYONE, {501}, "LiteLLM: SAML needs python3-saml, not installed"),
    rule(
        "own",
        r"GET /(atrium/login/proxy|atrium/sso/callback|sso/callback)",
        EVERYONE,
        {401},
        "a sign-in callback without its flow's state or trusted header",
    ),
    rule("own", r"GET /atrium/sso/start", EVERYONE, {404}, "SSO is not configured for the address"),
    rule("own", r"GET /sso/cli/poll/.*", EVERYONE, {400}, "no CLI login session of that id"),
    rule(
        "own",
        r"GET /claude-code/marketplace\.json",
        EVERYONE,
        {401},
        "LiteLLM: ?key= must be a raw sk- key; the DB holds hashes",
    ),
    rule("own", r"GET /config/yaml", EVERYONE, {422}, "LiteLLM: a GET route that requires a JSON body"),
    rule(
        "own",
        r"GET /public/v1/model_hub/\{facet\}",
        frozenset({"admin", "viewer"}),
        {422},
        "the facet is an enum, not an id",
    ),
    rule("*", r"GET /atrium/invitation/accept", EVERYONE, {410}, "not a valid invitation token: one generic 410"),
    rule(
        "foreign",
        r"POST /v2/login/resolve",
        EVERYONE,
        {200},
        "public sign-in routing: the same answer for any address without SSO, nothing of the account in it",
    ),
    # --- foreign ids where Atrium's answer is not a 403/404, and why that is not a leak -----
    rule(
        "foreign",
        r"POST /customer/(block|delete)",
        frozenset({"admin"}),
        {200},
        "end-user ids are per account (end_users.py): another account's id names one in the caller's own",
    ),
    rule("foreign", r"POST /customer/unblock", frozenset({"admin"}), {400}, "LiteLLM: blocking is not enabled"),
    rule(
        "foreign",
        r"GET /customer/info",
        frozenset({"admin", "viewer"}),
        {200, 404},
        "end-user ids are per account: the id names the caller's own end user, which the sweep's own calls "
        "(block, chat with `user`) may have created; nothing of the other account is in the answer",
    ),
    rule(
        "foreign",
        r"GET /(v1/|v2/)?model/info",
        EVERYONE,
        {200},
        "the account's view filtered by another account's model is empty (model_info handler)",
    ),
    rule(
        "foreign",
        r"POST /atrium/invitation/new",
        frozenset({"admin"}),
        {502},
        "no SMTP server on the test gateway: refused before the address is checked or anything stored",
    ),
    rule(
        "foreign",
        r"POST /(credentials|model/new|model/update)",
        frozenset({"admin"}),
        {400},
        "Atrium: the body is refused as invalid (stored name with '/', no litellm_params, no model id)",
    ),
    rule(
        "foreign",
        r"POST /(v1beta/)?models/\{[^}]+\}:countTokens",
        frozenset({"member-key", "team-key"}),
        {403},
        "LiteLLM: the key may not use that model",
    ),
    rule(
        "foreign",
        r"POST /(v1beta/)?models/\{[^}]+\}:countTokens",
        EVERYONE,
        {200},
        "LiteLLM: a local token estimate for any name, no deployment used",
    ),
    rule(
        "foreign",
        r"POST (/v1)?/(decisions|systemone)",
        frozenset({"member-key", "team-key"}),
        {403},
        "LiteLLM: the key may not use that model",
    ),
    rule(
        "foreign",
        r"POST (/v1)?/(decisions|systemone)",
        EVERYONE,
        {400},
        "LiteLLM: the request model rejects the body before a model is chosen",
    ),
    rule(
        "foreign",
        r"POST /engines/\{[^}]+\}/.*",
        frozenset({"ui-session"}),
        {401},
        "LiteLLM: UI session keys may not call inference routes",
    ),
]

# Routes where a value another account holds claims a new object: one generic 409 (conflicts.py).
CLAIMS = frozenset({"POST /budget/new", "POST /customer/new", "POST /team/new", "POST /user/new", "POST /user/update"})
