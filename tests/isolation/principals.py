"""The kinds of principal an account has, as HTTP clients, for the isolation sweep."""

from __future__ import annotations

import httpx

from extensions.testing.tenants import AccountWorld

__all__ = ["extend", "principal_clients"]


def extend(base_url: str, master_key: str, world: AccountWorld) -> AccountWorld:
    """The principals and objects build_account does not make: a viewer, a team key, a customer, a budget."""
    root = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    viewer = f"{world.slug}-viewer"
    added = root.post("/account/admin/add", json={"account_id": world.account_id, "user_id": viewer, "role": "viewer"})
    assert added.status_code == 200, added.text
    acting = world.client(base_url, master_key)
    acting.headers["X-Atrium-Account"] = world.account_id
    viewer_key = acting.post("/key/generate", json={"user_id": viewer, "key_alias": f"{world.slug}-viewer-key"})
    assert viewer_key.status_code == 200, viewer_key.text
    admin = world.client(base_url, world.admin_key)
    team_key = admin.post("/key/generate", json={"team_id": world.team_id, "key_alias": f"{world.slug}-team-key"})
    assert team_key.status_code == 200, team_key.text
    for path, body in (
        ("/budget/new", {"budget_id": f"{world.slug}-budget", "max_budget": 10}),
        ("/customer/new", {"user_id": f"{world.slug}-customer", "max_budget": 5}),
    ):
        response = admin.post(path, json=body)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    world.extras.update(viewer_key=viewer_key.json()["key"], team_key=team_key.json()["key"])
    for client in (root, acting, admin):
        client.close()
    return world


def principal_clients(base_url: str, world: AccountWorld) -> dict[str, httpx.Client]:
    """One client per kind of principal of the account (extras from ``sweep_accounts``)."""
    keys = {
        "admin": world.admin_key,
        "viewer": str(world.extras["viewer_key"]),
        "member-key": world.member_key,
        "team-key": str(world.extras["team_key"]),
        "ui-session": world.ui_session_key,
    }
    clients = {who: world.client(base_url, key) for who, key in keys.items()}
    # The admin UI sends the session cookie and the key inside it as the bearer.
    clients["ui-session"].cookies.set("token", world.ui_session_cookie)
    return clients
