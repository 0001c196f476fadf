"""Who sees which rows of the account: LiteLLM 1.108.7's daily-activity access rules, per entity.

An account admin or viewer (LiteLLM role ``proxy_admin`` / ``proxy_admin_viewer``) has LiteLLM's
admin view, confined to the account. Everyone else is what LiteLLM calls a non-admin:

- user (``resolve_user_daily_activity_entity_ids``): their own user only; another user's id is 403,
  a key without a user (a team key) is 403;
- team (``resolve_team_daily_activity_scope``): the teams of their user (another team is 404); unless
  they are admin of every requested team, or hold its ``/team/daily/activity`` permission, only their
  own keys' rows;
- tag (``get_tag_daily_activity_api_key_filter``): their own keys' rows (the key they call with and
  their user's keys). LiteLLM lets a caller whose role is not an internal-user role through
  unfiltered; here every non-admin is filtered;
- customer: admins only (403).

Refusals keep LiteLLM's status and its ``{"detail": {"error": ...}}`` body. Ids of another account
never get this far (the reference check answers 404), and every statement filters by account anyway.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import HTTPException

from extensions import litellm
from extensions.routes.replacements.usage import lookups
from extensions.routes.replacements.usage.scope import CUSTOMER, TAG, TEAM, USER, Entity, Query, Scope, parse_date
from extensions.tenancy.request.context import Principal, PrincipalKind

__all__ = ["admin_view", "refused", "resolve", "validated_dates"]

_ADMIN_KINDS = frozenset({PrincipalKind.ACCOUNT_ADMIN, PrincipalKind.ACCOUNT_VIEWER, PrincipalKind.SUPER_ADMIN})


def admin_view(principal: Principal) -> bool:
    """LiteLLM's ``user_api_key_has_admin_view``: the account's admins and viewers (the super admin
    acting as an account is its admin)."""
    return principal.kind in _ADMIN_KINDS


def refused(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"error": message})


def validated_dates(query: Query, *, capped: bool) -> tuple[str, str]:
    """LiteLLM's ``parse_canonical_date_range`` (and ``aggregated_date_range_error`` when capped)."""
    if query.start_date is None or query.end_date is None:
        raise refused(400, "Please provide start_date and end_date")
    start, end = parse_date(query.start_date), parse_date(query.end_date)
    if start is None or end is None:
        raise refused(400, "start_date and end_date must be valid YYYY-MM-DD dates")
    if end < start:
        raise refused(400, "end_date must be on or after start_date")
    days = litellm.TEAM_AGGREGATED_MAX_RANGE_DAYS
    if capped and (end - start).days > days:
        raise refused(400, f"Date range must be at most {days} days")
    return query.start_date, query.end_date


def _filter(requested: str | None, own: tuple[str, ...]) -> tuple[str, ...]:
    if requested:
        return (requested,) if requested in own else ()
    return own


async def _team_filters(query: Query, principal: Principal) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(team ids, api keys) a non-admin may read, as ``resolve_team_daily_activity_scope``."""
    account, user = principal.account_id, principal.user_id
    teams = await lookups.member_teams(account, user)
    if teams is None:
        raise refused(404, f"User= {user} not found")
    if query.entity_ids is None:
        team_ids: tuple[str, ...] = tuple(teams)
    else:
        for team_id in query.entity_ids:
            if team_id not in teams:
                raise refused(404, f"User does not belong to Team= {team_id}. Call `/user/info` to see user's teams")
        team_ids = query.entity_ids
    views = await lookups.team_views(account, user, team_ids) if team_ids else []
    if not views or all(view.full_view for view in views):
        return team_ids, (query.api_key,) if query.api_key else None
    keys = await lookups.own_keys(account, user, None)
    return team_ids, _filter(query.api_key, keys)


async def resolve(entity: Entity, query: Query, principal: Principal, *, capped: bool) -> Scope:
    """The scope of one request: dates checked first, then the entity's access rule."""
    start, end = validated_dates(query, capped=capped)
    admin = admin_view(principal)
    entity_ids, exclude = query.entity_ids, query.exclude_ids
    api_keys: tuple[str, ...] | None = (query.api_key,) if query.api_key else None
    if entity is USER and not admin:
        own = principal.user_id
        if own is None:
            raise refused(
                403,
                "Service-account keys cannot query user analytics. Use a user-bound key, or call as a proxy admin.",
            )
        if entity_ids is not None and entity_ids != (own,):
            raise refused(403, "Non-admin users can only view their own spend data.")
        entity_ids = (own,)
    elif entity is TEAM and not admin:
        entity_ids, api_keys = await _team_filters(query, principal)
    elif entity is TAG and not admin:
        own_keys = await lookups.own_keys(principal.account_id, principal.user_id, principal.token_hash)
        # LiteLLM tests the requested key with `is not None` here (an empty one selects nothing).
        requested = query.api_key
        api_keys = own_keys if requested is None else ((requested,) if requested in own_keys else ())
    elif entity is CUSTOMER:
        if not admin:
            raise refused(403, f"Admin-only endpoint. Your user role={principal.kind}")
        if principal.account_id is not None:
            # The account's end users are stored as <account_id>/<id> (tenancy/policy/end_users.py).
            account = principal.account_id
            entity_ids = None if entity_ids is None else tuple(f"{account}/{i}" for i in entity_ids)
            exclude = tuple(f"{account}/{i}" for i in exclude)
    scope = Scope(
        entity,
        principal.account_id,
        start,
        end,
        entity_ids=entity_ids,
        exclude_ids=exclude,
        api_keys=api_keys,
        timezone=query.timezone,
        include_current_utc_day=query.include_current_utc_day,
    )
    return replace(scope, models=scope.stored_name(query.model)) if query.model else scope
