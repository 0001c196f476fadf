"""What one daily-activity request reads: the entity table and the filters, always one account's rows.

LiteLLM 1.108.7 serves ``/{user,team,tag,customer}/daily/activity/*`` from one factory over the
``LiteLLM_Daily*Spend`` tables (``daily_activity_routes.py``, ``daily_activity_scopes.py``); these
are its ``EntityScopeResolver`` and ``DailyActivityScope`` for Atrium, with the caller's account
as the filter every statement starts with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = ["CUSTOMER", "ENTITIES", "TAG", "TEAM", "USER", "Entity", "Query", "Scope", "adjusted_dates", "parse_date"]


@dataclass(frozen=True, slots=True)
class Entity:
    """One family of daily-activity routes: its table, its entity column and its URL prefixes."""

    name: str  # LiteLLM's entity name: the export's file name starts with it
    handler: str  # the replacement handler id of routes.toml
    table: str
    column: str
    prefixes: tuple[str, ...]
    namespaced: bool = False  # ids stored as <account_id>/<id> (end users: tenancy/policy/end_users.py)


USER = Entity("user", "daily_activity_user", "LiteLLM_DailyUserSpend", "user_id", ("/user",))
TEAM = Entity("team", "daily_activity_team", "LiteLLM_DailyTeamSpend", "team_id", ("/team",))
TAG = Entity("tag", "daily_activity_tag", "LiteLLM_DailyTagSpend", "tag", ("/tag",))
CUSTOMER = Entity(
    "customer",
    "daily_activity_customer",
    "LiteLLM_DailyEndUserSpend",
    "end_user_id",
    ("/customer", "/end_user"),
    namespaced=True,
)
ENTITIES = (USER, TEAM, TAG, CUSTOMER)


@dataclass(frozen=True, slots=True)
class Query:
    """The request's filters as LiteLLM reads them (``EntityQuery``), before any access rule."""

    entity_ids: tuple[str, ...] | None
    exclude_ids: tuple[str, ...]
    api_key: str | None
    start_date: str | None
    end_date: str | None
    model: str | None
    timezone: int | None
    include_current_utc_day: bool = False


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows one request reads: always ``account_id`` first, then LiteLLM's filters.

    ``entity_ids``/``api_keys``: None is "no filter", ``()`` is "nothing" (LiteLLM's ``FALSE``).
    ``models`` are the stored names a public model name may have (``<account_id>/<name>``).
    """

    entity: Entity
    account_id: str | None
    start_date: str
    end_date: str
    entity_ids: tuple[str, ...] | None = None
    exclude_ids: tuple[str, ...] = ()
    api_keys: tuple[str, ...] | None = None
    models: tuple[str, ...] = ()
    timezone: int | None = None
    include_current_utc_day: bool = False
    entity_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stored_name(self, public: str) -> tuple[str, ...]:
        """The names a public model or model group name is stored under for this account."""
        if self.account_id is None:
            return (public,)
        return (public, f"{self.account_id}/{public}")


def parse_date(value: str) -> date | None:
    """LiteLLM's ``parse_canonical_date``: the tables store ``date`` as text, so only the exact
    ``YYYY-MM-DD`` spelling can match a row."""
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.isoformat() == value else None


def adjusted_dates(scope: Scope, now: datetime | None = None) -> tuple[str, str]:
    """LiteLLM's ``adjust_dates_for_timezone``: a range ending on the caller's local today also
    covers today's UTC bucket, when asked to."""
    if not scope.include_current_utc_day or scope.timezone is None:
        return scope.start_date, scope.end_date
    utc_now = now or datetime.now(UTC)
    local_today = (utc_now - timedelta(minutes=scope.timezone)).date().isoformat()
    if scope.end_date < local_today:
        return scope.start_date, scope.end_date
    return scope.start_date, max(scope.end_date, utc_now.date().isoformat())
