"""The account's keys, users, teams and end users that label daily-activity answers.

LiteLLM labels each key of an answer with its alias, team, owner and owner's email
(``DailyActivityRepository.key_metadata`` and ``key_metadata_recovery``), each user entity with
its email and alias, each team with its alias, each customer with its alias. Here every lookup is
filtered by the caller's account: a key hash, user id or team id of another account (which cannot
appear in the account's rows anyway) is never described.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from extensions.runtime import runtime

__all__ = [
    "KeyMeta",
    "end_user_aliases",
    "key_metadata",
    "member_teams",
    "own_keys",
    "pool",
    "team_aliases",
    "user_labels",
]


def pool() -> Any:
    return runtime.require_pool("usage analytics")


def _own(alias: str) -> str:
    # Lookups go by the id's own index; the account ($1) is the filter on top of it.
    return f"{alias}.account_id IS NOT DISTINCT FROM $1::text"


@dataclass(frozen=True, slots=True)
class KeyMeta:
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    key_exists: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_alias": self.key_alias,
            "team_id": self.team_id,
            "user_id": self.user_id,
            "user_email": self.user_email,
            "key_exists": self.key_exists,
        }


def _unanimous(first: str | None, last: str | None) -> str | None:
    if first is None:
        return last
    return first if last is None or first == last else None


async def key_metadata(account_id: str | None, api_keys: Iterable[str]) -> dict[str, KeyMeta]:
    """Labels of the account's keys: a live key, else its latest deleted row, else an owner all of
    the key's daily user rows agree on; then the owner's email. Keys found nowhere are absent.

    LiteLLM also recovers keys by CLI-session and double-hash lookups and from spend-log metadata;
    those describe keys no table of the account holds any more, and are left out here.
    """
    keys = sorted({k for k in api_keys if k})
    if not keys:
        return {}
    own = _own("t")
    rows = await pool().fetch(
        f"""
        (SELECT 'active' AS source, t.token AS api_key, t.key_alias, t.team_id, t.user_id,
                NULL::text AS last_owner
         FROM "LiteLLM_VerificationToken" t WHERE t.token = ANY($2::text[]) AND {own})
        UNION ALL
        (SELECT DISTINCT ON (t.token) 'deleted', t.token, t.key_alias, t.team_id, t.user_id, NULL
         FROM "LiteLLM_DeletedVerificationToken" t WHERE t.token = ANY($2::text[]) AND {own}
         ORDER BY t.token, t.deleted_at DESC)
        UNION ALL
        (SELECT 'owner', t.api_key, NULL, NULL, MIN(t.user_id), MAX(t.user_id)
         FROM "LiteLLM_DailyUserSpend" t
         WHERE t.api_key = ANY($2::text[]) AND t.user_id IS NOT NULL AND t.user_id <> '' AND {own}
         GROUP BY t.api_key)
        """,
        account_id,
        keys,
    )
    active = {r["api_key"]: r for r in rows if r["source"] == "active"}
    deleted = {r["api_key"]: r for r in rows if r["source"] == "deleted"}
    owners = {r["api_key"]: _unanimous(r["user_id"], r["last_owner"]) for r in rows if r["source"] == "owner"}
    found: dict[str, KeyMeta] = {}
    for key in keys:
        row = active.get(key) or deleted.get(key)
        meta = (
            KeyMeta(row["key_alias"], row["team_id"], row["user_id"], None, key in active) if row is not None else None
        )
        if (meta is None or not meta.user_id) and not (meta and meta.key_exists) and owners.get(key):
            meta = KeyMeta(meta.key_alias if meta else None, meta.team_id if meta else None, owners[key], None, False)
        if meta is not None:
            found[key] = meta
    labels = await user_labels(account_id, {m.user_id for m in found.values() if m.user_id})
    return {
        key: KeyMeta(m.key_alias, m.team_id, m.user_id, labels.get(m.user_id or "", (None, None))[0], m.key_exists)
        for key, m in found.items()
    }


async def user_labels(account_id: str | None, user_ids: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
    """user id -> (email, alias) for the account's users."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = await pool().fetch(
        f'SELECT u.user_id, u.user_email, u.user_alias FROM "LiteLLM_UserTable" u '
        f"WHERE u.user_id = ANY($2::text[]) AND {_own('u')}",
        account_id,
        ids,
    )
    return {r["user_id"]: (r["user_email"], r["user_alias"]) for r in rows}


async def team_aliases(account_id: str | None, team_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """team id -> ``{"team_alias": ...}`` for the account's teams (LiteLLM's entity metadata)."""
    ids = sorted(set(team_ids))
    if not ids:
        return {}
    rows = await pool().fetch(
        f'SELECT t.team_id, t.team_alias FROM "LiteLLM_TeamTable" t WHERE t.team_id = ANY($2::text[]) AND {_own("t")}',
        account_id,
        ids,
    )
    return {r["team_id"]: {"team_alias": r["team_alias"]} for r in rows}


async def end_user_aliases(account_id: str | None, end_user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """stored end-user id -> ``{"alias": ...}`` for the account's end users."""
    ids = sorted(set(end_user_ids))
    if not ids:
        return {}
    rows = await pool().fetch(
        f'SELECT e.user_id, e.alias FROM "LiteLLM_EndUserTable" e WHERE e.user_id = ANY($2::text[]) AND {_own("e")}',
        account_id,
        ids,
    )
    return {r["user_id"]: {"alias": r["alias"]} for r in rows}


async def own_keys(account_id: str | None, user_id: str | None, caller_token: str | None) -> tuple[str, ...]:
    """The caller's own keys: the key it called with and every key of its user (LiteLLM's
    ``_get_internal_user_api_keys``), of the account only."""
    keys = {caller_token} if caller_token else set()
    if user_id is not None:
        rows = await pool().fetch(
            f'SELECT t.token FROM "LiteLLM_VerificationToken" t WHERE t.user_id = $2 AND {_own("t")}',
            account_id,
            user_id,
        )
        keys.update(r["token"] for r in rows if r["token"])
    return tuple(sorted(keys))


@dataclass(frozen=True, slots=True)
class TeamView:
    team_id: str
    full_view: bool  # team admin, or a member with the /team/daily/activity permission


async def member_teams(account_id: str | None, user_id: str | None) -> list[str] | None:
    """The teams of the caller's user (``LiteLLM_UserTable.teams``); None when the user is unknown."""
    if user_id is None:
        return None
    row = await pool().fetchrow(
        f'SELECT u.teams FROM "LiteLLM_UserTable" u WHERE u.user_id = $2 AND {_own("u")}',
        account_id,
        user_id,
    )
    return None if row is None else list(row["teams"] or [])


async def team_views(account_id: str | None, user_id: str | None, team_ids: Iterable[str]) -> list[TeamView]:
    """Of the account's teams among ``team_ids``: whether the user sees the whole team
    (LiteLLM's ``is_team_admin`` or ``team_member_has_permission("/team/daily/activity")``)."""
    ids = sorted(set(team_ids))
    if not ids:
        return []
    rows = await pool().fetch(
        f"""
        SELECT t.team_id,
            EXISTS (
                SELECT 1 FROM jsonb_array_elements(
                    CASE WHEN jsonb_typeof(t.members_with_roles::jsonb) = 'array'
                         THEN t.members_with_roles::jsonb ELSE '[]'::jsonb END) m
                WHERE m ->> 'user_id' = $3
                  AND (m ->> 'role' = 'admin'
                       OR '/team/daily/activity' = ANY(COALESCE(t.team_member_permissions, '{{}}')))
            ) AS full_view
        FROM "LiteLLM_TeamTable" t
        WHERE t.team_id = ANY($2::text[]) AND {_own("t")}
        """,
        account_id,
        ids,
        user_id,
    )
    return [TeamView(r["team_id"], bool(r["full_view"])) for r in rows]
