"""Every id a tenant request names must be an object of the caller's account (else 404).

The scoped Prisma wrapper filters what LiteLLM *reads* through model calls, but a request
can still point LiteLLM at another account's object where no filtered read happens:

- handlers that write rows referencing an id without reading it first (``/invitation/new``
  stores any ``user_id``; ``/key/generate`` attaches ``budget_id``, ``tags``,
  ``organization_id``; ``/team/member_add`` creates membership rows for a ``user_id``);
- handlers that read through raw SQL or LiteLLM's process-wide ``user_api_key_cache``
  (``get_user_object`` / ``get_team_object`` by id), which the wrapper never sees;
- follow-up flows that run as the system (``/onboarding/*`` is a public route): the
  invitation A stored for B's user is honoured there with no account in sight.

So the middleware runs :func:`check_references` for tenant principals on every open route
*before* LiteLLM sees the request: it collects every id-typed value of the path, the query
and the JSON body (any depth: member lists, bulk lists, metadata) by parameter name, and
asks the database, with one query per id type, whether one of them is a row of another
account. Ids that exist nowhere pass: LiteLLM creates or rejects them itself, in the
caller's account. Fields naming a NEW object (``/user/new`` ``user_id``) are checked the
same way (an id taken by another account is refused), except emails, whose uniqueness
is a separate rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from extensions import litellm
from extensions.errors import NotFound, RequestError
from extensions.runtime import runtime
from extensions.tenancy.request.context import TenantContext

__all__ = [
    "FIELDS",
    "HEADER_FIELDS",
    "ID_TYPES",
    "LLM_CONTAINERS",
    "LLM_FIELDS",
    "NEW_OBJECT_FIELDS",
    "NOT_REFERENCES",
    "QUERY_ONLY",
    "ROUTE_FIELDS",
    "IdType",
    "ReferenceRefused",
    "check_references",
    "collect_references",
    "field_type",
]

MAX_IDS = 1000  # a request naming more ids than this is refused rather than checked slowly
_MAX_DEPTH = 12


class ReferenceRefused(NotFound):
    code = "not_found"
    status = 404


@dataclass(frozen=True, slots=True)
class IdType:
    """Where objects of one id type live: the value matches ``column`` of ``table``."""

    table: str
    column: str
    hashed: bool = False  # keys: sent raw (sk-...) or as LiteLLM's sha256 token
    folded: bool = False  # emails: compared case-insensitively


# The single table of id types a request may name, and where their rows live.
ID_TYPES: dict[str, IdType] = {
    "user": IdType("LiteLLM_UserTable", "user_id"),
    "sso_user": IdType("LiteLLM_UserTable", "sso_user_id"),
    "user_email": IdType("LiteLLM_UserTable", "user_email", folded=True),
    "team": IdType("LiteLLM_TeamTable", "team_id"),
    "key": IdType("LiteLLM_VerificationToken", "token", hashed=True),
    "budget": IdType("LiteLLM_BudgetTable", "budget_id"),
    "organization": IdType("LiteLLM_OrganizationTable", "organization_id"),
    "invitation": IdType("LiteLLM_InvitationLink", "id"),
    "tag": IdType("LiteLLM_TagTable", "tag_name"),
    "access_group": IdType("LiteLLM_AccessGroupTable", "access_group_id"),
    "project": IdType("LiteLLM_ProjectTable", "project_id"),
    "agent": IdType("LiteLLM_AgentsTable", "agent_id"),
}

# Parameter name (path, query, or body field at any depth) -> id type. Lists of strings are
# lists of ids; lists of objects (members, users, teams) are searched field by field.
FIELDS: dict[str, str] = {
    "user_id": "user",
    "user_ids": "user",
    "members": "user",  # NewTeamRequest.members: user ids (member objects are searched)
    "sso_user_id": "sso_user",
    "sso_user_ids": "sso_user",
    "user_email": "user_email",
    "team_id": "team",
    "team_ids": "team",
    "exclude_team_ids": "team",  # /team/daily/activity: ids to leave out, still only of the account
    "teams": "team",
    "team": "team",  # /user/list?team=
    "teamId": "team",  # /model/info?teamId=
    "object_team_id": "team",
    "key": "key",
    "keys": "key",
    "key_ids": "key",
    "key_hash": "key",
    "token": "key",
    "api_key": "key",  # spend/activity filters (management routes only, see LLM_FIELDS)
    "changed_by_api_key": "key",
    "object_key_hash": "key",
    "new_key": "key",
    "budget_id": "budget",
    "end_user_budget_id": "budget",
    "budgets": "budget",
    "organization_id": "organization",
    "organization_ids": "organization",
    "organizations": "organization",
    "org_id": "organization",
    "invitation_id": "invitation",
    "invite_link": "invitation",
    "invitation_link": "invitation",
    "tags": "tag",
    "access_group_id": "access_group",
    "access_group_ids": "access_group",
    "project_id": "project",
    "agent_id": "agent",
}

# Names that are ids only in the query string: in request bodies ``api_key`` is a provider
# credential (model params, credentials, LLM calls), never a virtual key of the proxy.
QUERY_ONLY = frozenset({"api_key"})

# On customer routes ``user_id`` names an end user (LiteLLM_EndUserTable), isolated elsewhere.
_CUSTOMER_ROUTES = [
    f"/{prefix}/{op}"
    for prefix in ("customer", "end_user")
    for op in ("new", "update", "delete", "block", "unblock", "info")
]

# Per route template: fields whose meaning differs there (None: not an id of ID_TYPES).
ROUTE_FIELDS: dict[str, dict[str, str | None]] = {
    "/budget/delete": {"id": "budget"},
    "/tag/info": {"names": "tag"},
    # Memory entries are addressed by their own key name, not by an API key.
    "/v1/memory": {"key": None, "key_prefix": None},
    "/v1/memory/{key:path}": {"key": None},
    # Atrium's invitation token is the one-time secret of the link, checked by its handler.
    "/atrium/invitation/accept": {"token": None},
    **{template: {"user_id": None, "user_ids": None} for template in _CUSTOMER_ROUTES},
    # Atrium's account-level reads: the handler answers an account principal about its own account
    # only (another account's id or slug: 404) and lets the super admin name any (POST: super admin only).
    **{
        template: {"account_id": None}
        for template in (
            "/account/budget",
            "/account/entitlements",
            "/atrium/audit",
            "/atrium/audit/export",
            "/atrium/metrics",
        )
    },
}

# Per route template: fields that name the object being created. Ids there must not be
# taken by another account (same check); emails are left to the email-uniqueness rule.
NEW_OBJECT_FIELDS: dict[str, frozenset[str]] = {
    "/user/new": frozenset({"user_id", "user_email", "sso_user_id"}),
    "/management/v1/users/bulk": frozenset({"user_id", "user_email", "sso_user_id"}),
    "/team/new": frozenset({"team_id"}),
    "/budget/new": frozenset({"budget_id"}),
    "/key/generate": frozenset({"key"}),
    "/key/service-account/generate": frozenset({"key"}),
    "/key/regenerate": frozenset({"new_key"}),
    "/key/{key:path}/regenerate": frozenset({"new_key"}),
    "/user/update": frozenset({"user_email"}),  # the new address; the user is named by user_id
}

# Id-like field names of the request models that are not references, and why.
NOT_REFERENCES: dict[str, str] = {
    "key_alias": "a label, not unique; lookups by alias go through the scoped wrapper",
    "key_aliases": "labels; KeyRequest resolves them with scoped model calls",
    "team_alias": "a label of the team being written",
    "user_alias": "a label of the user being written",
    "key_type": "an enum",
    "team_member_permissions": "route names, not ids",
    "team_member_budget": "a number",
    "team_member_budget_duration": "a duration",
    "team_member_key_duration": "a duration",
    "team_member_rpm_limit": "a number",
    "team_member_tpm_limit": "a number",
    "team_member_model_max_budget": "model names to budgets",
    "default_team_member_models": "model names",
    "tag_rpm_limit": "tag names to limits of the key itself (no tag row is written)",
    "mcp_access_groups": "MCP access group names, resolved by the MCP permission checks",
    "agent_access_groups": "agent access group names",
    "max_budget_in_team": "a number",
    "all_keys_in_team": "a flag",
    "send_invite_email": "a flag",
    "new_master_key": "guarded in guards.py: never accepted from tenants",
    "budget_duration": "a duration",
    "budget_limits": "numbers and durations",
    "budget_fallbacks": "model names",
    "budget_reset_at": "a timestamp",
    "max_budget": "a number",
    "soft_budget": "a number",
    "model_max_budget": "model names to budgets",
    "user_role": "an enum",
    "auto_create_key": "a flag",
    "routing_groups": "router settings of the key",
    "model_group_retry_policy": "model names",
    "model_group_affinity_config": "model names",
    "model_group_alias": "model names",
    "enable_tag_filtering": "a flag",
    "tag_routing_prefix": "a string prefix",
    "group_name": "a router group label",
    "all_users": "a flag",
    "user_updates": "an object of field values (its fields are checked)",
    "member": "member objects (their fields are checked)",
    "members_with_roles": "member objects (their fields are checked)",
    "users": "user objects (their fields are checked)",
    "apply_to_all_teams": "a flag",
    "require_trace_id": "a flag",
    "id": "only an id type on routes listed in ROUTE_FIELDS (/budget/delete)",
    "names": "only tag names on /tag/info (ROUTE_FIELDS)",
    "model_id": "deployments: the model replacement handlers resolve them in the account (docs/models.md)",
    "litellm_model_id": "deployments: resolved by the model_info replacement handler",
    "modelId": "deployments: resolved by the model_info replacement handler",
    "request_id": "spend-log rows: the spend_logs_ui replacement filters by account; compliance reads are scoped",
    "session_id": "spend-log sessions (spend_logs_ui replacement) and workflow rows (scoped wrapper)",
    "run_id": "workflow runs: LiteLLM_WorkflowRun is read and written by model calls (scoped wrapper)",
    "object_id": "audit-log filter over any object type; audit rows are read by scoped model calls",
    "end_user": "customers (end users) are isolated by their own mechanism, not this check",
    "end_user_id": "customers (end users) are isolated by their own mechanism, not this check",
    "end_user_ids": "customers (end users) are isolated by their own mechanism, not this check",
    "exclude_end_user_ids": "customers (end users) are isolated by their own mechanism, not this check",
    "email": "Atrium's /atrium/invitation/new names a NEW invitee (email uniqueness rule)",
    "client_id": "the identity provider's OAuth client id (Atrium SSO config)",
}

# On LLM routes the body is a provider request (messages, tools, provider api_key...): only
# spend tags, which LiteLLM books on LiteLLM_TagTable rows by name, are references there.
LLM_FIELDS = frozenset({"tags"})
LLM_CONTAINERS = ("metadata", "litellm_metadata")
# Request headers that carry ids on every route (LiteLLM merges this one into the request's tags).
HEADER_FIELDS: dict[str, str] = {"x-litellm-tags": "tag"}

_PARAM_RE = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


def field_type(template: str, name: str, *, in_body: bool = False) -> str | None:
    """The id type of parameter ``name`` on the route ``template``, None when not an id."""
    overrides = ROUTE_FIELDS.get(template, {})
    if name in overrides:
        return overrides[name]
    if in_body and name in QUERY_ONLY:
        return None
    return FIELDS.get(name)


@lru_cache(maxsize=1024)
def _template_regex(template: str) -> re.Pattern[str]:
    pattern, pos = "", 0
    for match in _PARAM_RE.finditer(template):
        pattern += re.escape(template[pos : match.start()])
        pattern += f"(?P<{match.group(1)}>.+)" if match.group(2) == "path" else f"(?P<{match.group(1)}>[^/]+)"
        pos = match.end()
    return re.compile(pattern + re.escape(template[pos:]) + "$")


class _Found:
    """Values per id type; ``new`` marks values of NEW_OBJECT_FIELDS (emails there are skipped)."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.new = NEW_OBJECT_FIELDS.get(template, frozenset())
        self.values: dict[str, set[str]] = {}
        self.count = 0

    def add(self, name: str, value: Any, *, split: bool = False, in_body: bool = False) -> None:
        kind = field_type(self.template, name, in_body=in_body)
        if kind is None or (name in self.new and ID_TYPES[kind].folded):
            return
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if not isinstance(item, str) or not item:
                continue  # objects in lists are searched by _walk; numbers are no ids
            parts = [item, *item.split(",")] if split and "," in item else [item]
            for part in parts:
                self.values.setdefault(kind, set()).add(part.strip())
                self.count += 1
        if self.count > MAX_IDS:
            raise RequestError("the request names too many identifiers", hint=f"send at most {MAX_IDS} ids per request")


def _walk(found: _Found, body: Any, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(body, Mapping):
        for name, value in body.items():
            if isinstance(name, str):
                found.add(name, value, in_body=True)
            if isinstance(value, Mapping | list):
                _walk(found, value, depth + 1)
    elif isinstance(body, list):
        for item in body:
            if isinstance(item, Mapping | list):
                _walk(found, item, depth + 1)


def _walk_llm(found: _Found, body: Any) -> None:
    if not isinstance(body, Mapping):
        return
    scopes = [body, *(body[c] for c in LLM_CONTAINERS if isinstance(body.get(c), Mapping))]
    for scope in scopes:
        for name in LLM_FIELDS:
            if name in scope:
                found.add(name, scope[name], in_body=True)


def collect_references(
    template: str,
    path: str,
    query_string: bytes,
    body: Any,
    *,
    llm: bool = False,
    headers: Mapping[str, str] | None = None,
) -> dict[str, set[str]]:
    """Every id-typed value of the request, by id type."""
    found = _Found(template)
    for header, kind in HEADER_FIELDS.items():
        if headers is not None and headers.get(header):
            found.values.setdefault(kind, set()).update(t.strip() for t in headers[header].split(",") if t.strip())
    if llm:
        _walk_llm(found, body)
        return found.values
    match = _template_regex(template).match(path)
    if match is not None:
        for name, value in match.groupdict().items():
            found.add(name, value)
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=False):
        found.add(name, value, split=True)
    _walk(found, body)
    return found.values


def _candidates(kind: IdType, values: Iterable[str]) -> list[str]:
    out = set(values)
    if kind.hashed:
        out |= {litellm.hash_token(v) for v in values}
    if kind.folded:
        out = {v.lower() for v in out}
    return sorted(out)


async def _foreign(kind: IdType, values: list[str], account: str | None) -> bool:
    """True when one of the values is a row of another account (or a global row)."""
    pool = runtime.pool
    if pool is None:
        return True  # cannot verify: fail closed
    column = f'lower("{kind.column}")' if kind.folded else f'"{kind.column}"'
    found = await pool.fetchval(
        f'SELECT 1 FROM "{kind.table}" WHERE {column} = ANY($1::text[]) AND account_id IS DISTINCT FROM $2 LIMIT 1',
        values,
        account,
    )
    return found is not None


async def check_references(
    ctx: TenantContext,
    template: str,
    path: str,
    query_string: bytes,
    body: Any,
    *,
    llm: bool = False,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`ReferenceRefused` (404) when the request names another account's object."""
    found = collect_references(template, path, query_string, body, llm=llm, headers=headers)
    for name, values in found.items():
        kind = ID_TYPES[name]
        if values and await _foreign(kind, _candidates(kind, values), ctx.account_id):
            raise ReferenceRefused(
                f"the request names a {name.replace('_', ' ')} that does not exist in this account",
                hint="use the ids your account's listings return",
            )
