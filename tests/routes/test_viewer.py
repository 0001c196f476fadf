"""An account viewer reads like an admin but can change nothing admin-only.

The admin-only routes are found, not listed: every route of Atrium's routers (the app's and
the replacement handlers') whose dependencies include an account-admin requirement. Each is
called by a viewer's key and by a viewer's UI session key: 403, and no row of the account's
models, credentials, SSO config, invitations or admins changed.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from extensions.app import install
from extensions.litellm import proxy_app
from extensions.routes import deps
from extensions.routes.replacements import Replacements
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

WATCHED = [
    "LiteLLM_ProxyModelTable",
    "LiteLLM_CredentialsTable",
    "Atrium_OidcConfig",
    "Atrium_Invitation",
    "Atrium_AccountAdmin",
    "LiteLLM_InvitationLink",
]


def _needs_admin(dependant: Any) -> bool:
    return any(
        (isinstance(d.call, deps.Requirement) and d.call.admin_only) or _needs_admin(d) for d in dependant.dependencies
    )


def _admin_only_routes() -> list[tuple[str, str]]:
    apps = [install(proxy_app()), Replacements().app]
    found: set[tuple[str, str]] = set()
    for app in apps:
        for ctx in iter_route_contexts(app.routes):
            route = ctx.original_route
            if isinstance(route, APIRoute) and _needs_admin(route.dependant):
                found.update((method, str(ctx.path)) for method in set(ctx.methods or ()) - {"HEAD"})
    return sorted(found)


ROUTES = _admin_only_routes()


@pytest.fixture(scope="module")
def viewer_world(proxy: ProxyProcess, master_key: str) -> tuple[AccountWorld, dict[str, str]]:
    world = build_account(proxy.base_url, master_key, "viewerco", with_model=True)
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    added = root.post(
        "/account/admin/add", json={"account_id": world.account_id, "user_id": "viewerco-viewer", "role": "viewer"}
    )
    assert added.status_code == 200, added.text
    acting = httpx.Client(
        base_url=proxy.base_url,
        headers={"Authorization": f"Bearer {master_key}", "X-Atrium-Account": world.account_id},
        timeout=30,
    )
    key = acting.post("/key/generate", json={"user_id": "viewerco-viewer"})
    assert key.status_code == 200, key.text
    return world, {"viewer-key": key.json()["key"]}


async def _rows(dsn: str, account_id: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            table: sorted(
                r["j"]
                for r in await conn.fetch(
                    f'SELECT to_jsonb(t)::text AS j FROM "{table}" t WHERE account_id = $1', account_id
                )
            )
            for table in WATCHED
        }
    finally:
        await conn.close()


def _path(template: str, world: AccountWorld) -> str:
    values = {"model_id": str(world.extras["model_id"]), "credential_name": "viewerco-cred"}
    return re.sub(r"\{([^}:]+)(:[^}]+)?\}", lambda m: values.get(m.group(1), "x"), template)


@pytest.fixture(scope="module")
def viewer(proxy: ProxyProcess, viewer_world: tuple[AccountWorld, dict[str, str]]) -> Iterator[httpx.Client]:
    _, keys = viewer_world
    client = httpx.Client(
        base_url=proxy.base_url, headers={"Authorization": f"Bearer {keys['viewer-key']}"}, timeout=30
    )
    yield client
    client.close()


def test_admin_only_routes_are_found() -> None:
    paths = {p for _, p in ROUTES}
    assert {"/model/new", "/credentials", "/atrium/sso/config", "/atrium/invitation/new"} <= paths, paths


def test_viewer_is_refused_every_admin_only_route_and_changes_nothing(
    viewer: httpx.Client, viewer_world: tuple[AccountWorld, dict[str, str]], database_url: str
) -> None:
    world, _ = viewer_world
    before = asyncio.run(_rows(database_url, world.account_id))
    wrong: list[str] = []
    body = {
        "model_name": "viewer-model",
        "litellm_params": {"model": "openai/x", "api_key": "sk-x"},
        "credential_name": "viewer-cred",
        "credential_values": {"api_key": "sk-x"},
        "email": "someone@viewerco.example",
        "user_id": "viewerco-member",
        "id": str(world.extras["model_id"]),
    }
    for method, template in ROUTES:
        response = viewer.request(method, _path(template, world), json=None if method == "GET" else body)
        if response.status_code != 403:
            wrong.append(f"{method} {template} -> {response.status_code} {response.text[:120]}")
    assert not wrong, "a viewer reached admin-only routes:\n" + "\n".join(wrong)
    assert asyncio.run(_rows(database_url, world.account_id)) == before


def test_viewer_still_reads_the_account(viewer: httpx.Client) -> None:
    # The model was just added through one worker; the other loads it on its next config reload.
    deadline = time.monotonic() + 120
    while True:
        listed = viewer.get("/v2/model/info")
        assert listed.status_code == 200, listed.text
        if "viewerco-model" in listed.text or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert "viewerco-model" in listed.text
