"""/account/*: the super admin's account API, with clear 4xx errors and OpenAPI docs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from extensions.testing.proxy_process import ProxyProcess


@pytest.fixture(scope="module")
def root(proxy: ProxyProcess, master_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30) as c:
        yield c


def _slug() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}"


def test_create_info_update_list(root: httpx.Client) -> None:
    slug = _slug()
    created = root.post("/account/new", json={"name": "Gamma Corp", "slug": slug, "email_domains": ["Gamma.Example"]})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["status"] == "active" and body["email_domains"] == ["gamma.example"]
    by_slug = root.get("/account/info", params={"account_id": slug}).json()
    assert by_slug["account_id"] == body["account_id"]
    updated = root.post("/account/update", json={"account_id": slug, "name": "Gamma", "settings": {"tier": "gold"}})
    assert updated.json()["name"] == "Gamma" and updated.json()["settings"] == {"tier": "gold"}
    listed = root.get("/account/list").json()["accounts"]
    assert any(a["slug"] == slug for a in listed)
    suspended = root.get("/account/list", params={"status": "suspended"}).json()["accounts"]
    assert all(a["status"] == "suspended" for a in suspended)


def test_slug_defaults_to_the_name(root: httpx.Client) -> None:
    name = f"Hotel {uuid.uuid4().hex[:6]}"
    created = root.post("/account/new", json={"name": name})
    assert created.json()["slug"] == name.lower().replace(" ", "-")


@pytest.mark.parametrize(
    ("payload", "status", "code", "fragment"),
    [
        ({"name": "x", "slug": "Bad Slug!"}, 400, "bad_request", "not a valid slug"),
        ({"name": "  "}, 400, "bad_request", "name must not be empty"),
        ({"name": "Valid Name", "email_domains": ["not a domain"]}, 400, "bad_request", "not a valid email domain"),
    ],
)
def test_bad_input_is_a_clear_400(root: httpx.Client, payload: dict, status: int, code: str, fragment: str) -> None:  # type: ignore[type-arg]
    response = root.post("/account/new", json=payload)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and fragment in error["message"] and error["hint"]


def test_duplicates_are_409_and_lose_nothing(root: httpx.Client) -> None:
    slug, domain = _slug(), f"{uuid.uuid4().hex[:8]}.example"
    first = root.post("/account/new", json={"name": "One", "slug": slug, "email_domains": [domain]}).json()
    dup_slug = root.post("/account/new", json={"name": "Two", "slug": slug})
    assert dup_slug.status_code == 409 and "already taken" in dup_slug.json()["error"]["message"]
    dup_domain = root.post("/account/new", json={"name": "Three", "slug": _slug(), "email_domains": [domain]})
    assert dup_domain.status_code == 409 and domain in dup_domain.json()["error"]["message"]
    # The failed creation left nothing behind and the first account kept its domain.
    assert root.get("/account/info", params={"account_id": first["account_id"]}).json()["email_domains"] == [domain]
    assert not [a for a in root.get("/account/list").json()["accounts"] if a["name"] == "Three"]


def test_unknown_account_and_bad_status(root: httpx.Client) -> None:
    missing = root.post("/account/suspend", json={"account_id": "no-such-account"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = root.get("/account/list", params={"status": "frozen"})
    assert bad.status_code == 400 and "active, suspended, deleted" in bad.json()["error"]["hint"]
    invalid = root.post("/account/new", json={"slug": "no-name"})
    assert invalid.status_code == 422  # FastAPI names the missing field


def test_admin_add_and_remove(root: httpx.Client) -> None:
    slug = _slug()
    root.post("/account/new", json={"name": "Admins", "slug": slug})
    added = root.post("/account/admin/add", json={"account_id": slug, "user_id": f"{slug}-boss"})
    assert added.status_code == 200 and added.json()["admins"] == [{"user_id": f"{slug}-boss", "role": "admin"}]
    removed = root.post("/account/admin/remove", json={"account_id": slug, "user_id": f"{slug}-boss"})
    assert removed.json()["admins"] == []
    again = root.post("/account/admin/remove", json={"account_id": slug, "user_id": f"{slug}-boss"})
    assert again.status_code == 404


def test_only_the_super_admin_manages_accounts(proxy: ProxyProcess) -> None:
    anonymous = httpx.post(f"{proxy.base_url}/account/new", json={"name": "x"})
    assert anonymous.status_code in (401, 403)


def test_account_api_is_documented(proxy: ProxyProcess) -> None:
    spec = httpx.get(f"{proxy.base_url}/openapi.json", timeout=60).json()
    for path in (
        "/account/new",
        "/account/list",
        "/account/info",
        "/account/update",
        "/account/delete",
        "/account/suspend",
        "/account/reactivate",
        "/account/admin/add",
        "/account/admin/remove",
    ):
        assert path in spec["paths"], path
