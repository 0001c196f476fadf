"""access_group_ids: refused for every tenant principal before LiteLLM writes anything.

Access groups are the operator's in LiteLLM 1.108.7 (every access-group route is
``super_admin``); LiteLLM mirrors a key's or team's ``access_group_ids`` into the group rows
with raw SQL and auth then grants the groups' models. The refusal must come before LiteLLM
writes the key or team row, so each refused request is checked to have changed no row.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

TABLES = ("LiteLLM_VerificationToken", "LiteLLM_TeamTable")
USAGE_COLUMNS = ("spend", "model_spend", "last_active", "updated_at")


async def _execute(dsn: str, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def _snapshot(dsn: str, account_id: str, groups: list[str]) -> dict[str, list[str]]:
    """This account's keys and teams, the two groups, and which groups exist.

    Scoped to what the refused requests could write: the whole tables also hold other
    tests' rows, which LiteLLM's batched spend writer may still be updating. For the same
    reason the usage columns that writer keeps are left out of this account's rows too (the
    account's own earlier request was once billed between the two snapshots).
    """
    conn = await asyncpg.connect(dsn)
    try:
        owned = {
            table: sorted(
                r["j"]
                for r in await conn.fetch(
                    f'SELECT (to_jsonb(t) - $2::text[])::text AS j FROM "{table}" t WHERE account_id = $1',
                    account_id,
                    list(USAGE_COLUMNS),
                )
            )
            for table in TABLES
        }
        named = await conn.fetch(
            'SELECT to_jsonb(t)::text AS j FROM "LiteLLM_AccessGroupTable" t WHERE access_group_id = ANY($1)',
            groups,
        )
        every = await conn.fetch('SELECT access_group_id FROM "LiteLLM_AccessGroupTable"')
        return owned | {
            "groups": sorted(r["j"] for r in named),
            "group ids": sorted(r["access_group_id"] for r in every),
        }
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def world(proxy: ProxyProcess, master_key: str) -> AccountWorld:
    return build_account(proxy.base_url, master_key, "groupco")


@pytest.fixture(scope="module")
def groups(world: AccountWorld, database_url: str) -> list[str]:
    """An operator's group and one forged into the account: neither may be named by a tenant."""
    ids = [f"ag-operator-{uuid.uuid4().hex[:8]}", f"ag-own-{uuid.uuid4().hex[:8]}"]
    sql = (
        'INSERT INTO "LiteLLM_AccessGroupTable" (access_group_id, access_group_name, access_model_names, '
        "account_id, updated_at) VALUES ($1, $1, ARRAY['gpt-fake'], $2, now())"
    )
    asyncio.run(_execute(database_url, sql, ids[0], None))
    asyncio.run(_execute(database_url, sql, ids[1], world.account_id))
    return ids


@pytest.fixture(scope="module")
def admin(proxy: ProxyProcess, world: AccountWorld) -> Iterator[httpx.Client]:
    client = world.client(proxy.base_url, world.admin_key)
    yield client
    client.close()


def _requests(world: AccountWorld, group: str) -> list[tuple[str, str, dict[str, object]]]:
    return [
        ("POST", "/key/generate", {"key_alias": "grouped", "access_group_ids": [group]}),
        ("POST", "/key/update", {"key": world.member_key, "access_group_ids": [group]}),
        ("POST", "/key/bulk_update", {"keys": [{"key": world.member_key, "access_group_ids": [group]}]}),
        ("POST", "/team/new", {"team_alias": "grouped-team", "access_group_ids": [group]}),
        ("POST", "/team/update", {"team_id": world.team_id, "access_group_ids": [group]}),
    ]


def test_a_tenant_naming_any_access_group_is_refused_and_nothing_changes(
    admin: httpx.Client, world: AccountWorld, groups: list[str], database_url: str
) -> None:
    before = asyncio.run(_snapshot(database_url, world.account_id, groups))
    wrong: list[str] = []
    for group in groups:
        for method, path, body in _requests(world, group):
            response = admin.request(method, path, json=body)
            code = response.json().get("error", {}).get("code") if response.status_code == 403 else None
            if code != "field_not_allowed":
                wrong.append(f"{method} {path} {group} -> {response.status_code} {response.text[:160]}")
    assert not wrong, "\n".join(wrong)
    assert asyncio.run(_snapshot(database_url, world.account_id, groups)) == before


def test_an_empty_list_is_not_a_reference(admin: httpx.Client) -> None:
    response = admin.post("/key/generate", json={"key_alias": "ungrouped", "access_group_ids": []})
    assert response.status_code == 200, response.text
