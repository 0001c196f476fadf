"""Model listings show a key only what it may call, as LiteLLM 1.108.7 does, within its account.

The account (built through the real API) can use the gateway's global ``gpt-fake`` and
``embed-fake`` and has a model of its own, ``lst-model``. The expected lists follow
LiteLLM's documented behaviour for a key's ``models`` (virtual keys: "restrict models"),
its team's ``models``, its ``aliases`` ("model aliases": listed by ``/v1/models`` and
routed to their target) and access groups, then Atrium's account filter:

- ``/v1/models``, ``/model/info``, ``/v1/model/info`` and ``/model_group/info`` list the
  models the key may call (key limits, else its team's limits, else every model of its account).
- ``/v1/models`` also lists the key's aliases; the info routes do not (LiteLLM describes
  router deployments and groups there, and an alias is neither).
- ``/v2/model/info`` is not cut by key limits: LiteLLM's ``model_info_v2`` lists the router's
  deployments to any caller (only ``include_team_models``/``user_models_only`` filter), so Atrium
  shows the whole account there, as LiteLLM would show the whole proxy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

GLOBAL = {"gpt-fake", "embed-fake"}
INFO_ROUTES = ("/model/info", "/v1/model/info")


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Listing:
    world: AccountWorld
    other: AccountWorld
    own_model: str
    keys: dict[str, str]  # case -> virtual key


def _key(admin: httpx.Client, **body: Any) -> str:
    key: str = _ok(admin.post("/key/generate", json=body))["key"]
    return key


@pytest.fixture(scope="module")
def listing(proxy: ProxyProcess, master_key: str) -> Iterator[Listing]:
    world = build_account(proxy.base_url, master_key, "lst", with_model=True)
    other = build_account(proxy.base_url, master_key, "lsu", with_model=True)
    admin = world.client(proxy.base_url, world.admin_key)
    own_model = str(world.extras["model_name"])
    _wait_listed(proxy, world.admin_key, own_model)
    team_one = _ok(admin.post("/team/new", json={"team_alias": "lst-one-model", "models": ["gpt-fake"]}))["team_id"]
    team_all = _ok(admin.post("/team/new", json={"team_alias": "lst-all", "models": ["embed-fake", own_model]}))[
        "team_id"
    ]
    keys = {
        "unlimited": world.admin_key,
        "key-one-model": _key(admin, models=["gpt-fake"]),
        "key-own-model": _key(admin, models=[own_model]),
        "team-one-model": _key(admin, team_id=team_one),
        "all-team-models": _key(admin, team_id=team_all, models=["all-team-models"]),
        "aliases": _key(admin, models=["gpt-fake"], aliases={"my-alias": "gpt-fake"}),
        "foreign-alias": _key(
            admin, aliases={"their-model": f"{other.account_id}/{other.extras['model_name']}", "ok-alias": "embed-fake"}
        ),
    }
    yield Listing(world, other, own_model, keys)
    admin.close()


def _expected(listing: Listing) -> dict[str, set[str]]:
    """What LiteLLM lets each key call (= lists on /v1/models, without aliases), in the account."""
    everything = GLOBAL | {listing.own_model}
    return {
        "unlimited": everything,
        "key-one-model": {"gpt-fake"},
        "key-own-model": {listing.own_model},
        "team-one-model": {"gpt-fake"},  # a key without models takes its team's
        "all-team-models": {"embed-fake", listing.own_model},
        "aliases": {"gpt-fake"},
        "foreign-alias": everything,
    }


ALIASES = {"aliases": {"my-alias"}, "foreign-alias": {"ok-alias"}}


def _names(proxy: ProxyProcess, key: str, path: str) -> set[str]:
    body = _ok(httpx.get(f"{proxy.base_url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=30))
    field = {"/v1/models": "id", "/model_group/info": "model_group"}.get(path, "model_name")
    return {str(row[field]) for row in body["data"]}


CASES = ["unlimited", "key-one-model", "key-own-model", "team-one-model", "all-team-models", "aliases", "foreign-alias"]


@pytest.mark.parametrize("case", CASES)
def test_v1_models_lists_what_the_key_may_call_and_its_aliases(
    proxy: ProxyProcess, listing: Listing, case: str
) -> None:
    expected = _expected(listing)[case] | ALIASES.get(case, set())
    assert _names(proxy, listing.keys[case], "/v1/models") == expected


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("path", [*INFO_ROUTES, "/model_group/info"])
def test_info_routes_honour_key_and_team_limits(proxy: ProxyProcess, listing: Listing, case: str, path: str) -> None:
    assert _names(proxy, listing.keys[case], path) == _expected(listing)[case]


@pytest.mark.parametrize("case", CASES)
def test_v2_model_info_lists_the_whole_account_as_litellm_lists_the_whole_proxy(
    proxy: ProxyProcess, listing: Listing, case: str
) -> None:
    assert _names(proxy, listing.keys[case], "/v2/model/info") == GLOBAL | {listing.own_model}


def test_an_alias_routes_to_its_target_through_the_openai_client(proxy: ProxyProcess, listing: Listing) -> None:
    client = openai.OpenAI(api_key=listing.keys["aliases"], base_url=f"{proxy.base_url}/v1")
    listed = {model.id for model in client.models.list()}
    assert listed == {"gpt-fake", "my-alias"}
    reply = client.chat.completions.create(model="my-alias", messages=[{"role": "user", "content": "alias"}])
    assert reply.choices[0].message.content
    with pytest.raises(openai.APIStatusError) as refused:  # the limit still holds on calls
        client.embeddings.create(model="embed-fake", input="x")
    assert refused.value.status_code in (401, 403)


def test_a_limited_key_cannot_name_a_model_group_outside_its_limits(proxy: ProxyProcess, listing: Listing) -> None:
    headers = {"Authorization": f"Bearer {listing.keys['key-one-model']}"}
    for group, shown in (("gpt-fake", {"gpt-fake"}), ("embed-fake", set()), (listing.own_model, set())):
        body = _ok(httpx.get(f"{proxy.base_url}/model_group/info", params={"model_group": group}, headers=headers))
        assert {row["model_group"] for row in body["data"]} == shown, group


def test_listings_show_nothing_of_another_account(proxy: ProxyProcess, listing: Listing) -> None:
    canaries = [listing.other.account_id, str(listing.other.extras["model_name"]), "their-model"]
    for key in listing.keys.values():
        for path in ("/v1/models", *INFO_ROUTES, "/v2/model/info", "/model_group/info"):
            text = httpx.get(f"{proxy.base_url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=30).text
            assert not any(canary in text for canary in canaries), (path, text[:300])


def test_a_member_ui_session_sees_its_keys_view(proxy: ProxyProcess, listing: Listing) -> None:
    # The admin UI sends the session's key as a bearer token; a member session has no model limits.
    for path in ("/v1/models", *INFO_ROUTES, "/model_group/info"):
        assert _names(proxy, listing.world.ui_session_key, path) == _expected(listing)["unlimited"], path


def _wait_listed(proxy: ProxyProcess, key: str, model: str, limit: float = 90.0) -> None:
    """Until every worker's router has the model (LiteLLM reloads DB models on an interval; the two
    workers answer at random, so sixteen answers in a row)."""
    deadline = time.monotonic() + limit
    streak = 0
    while streak < 16:
        if time.monotonic() > deadline:
            raise AssertionError(f"{model} was not listed to the account within {limit}s")
        streak = streak + 1 if model in _names(proxy, key, "/model/info") else 0
        time.sleep(0.2 if streak else 1.0)


def test_a_key_limited_to_an_access_group_sees_its_models(
    proxy: ProxyProcess, master_key: str, listing: Listing
) -> None:
    # Runs last in the module: the global model published here joins the account's view.
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    _ok(
        root.post(
            "/model/new",
            json={
                "model_name": "lst-grouped",
                "litellm_params": {
                    "model": "openai/gpt-fake",
                    "api_base": "http://lst-group.invalid/v1",
                    "api_key": "x",
                },
                "model_info": {"access_groups": ["lst-beta"], "atrium_accounts": [listing.world.account_id]},
            },
        )
    )
    admin = listing.world.client(proxy.base_url, listing.world.admin_key)
    grouped = _key(admin, models=["lst-beta"])
    _wait_listed(proxy, grouped, "lst-grouped")
    for path in ("/v1/models", *INFO_ROUTES, "/model_group/info"):
        assert _names(proxy, grouped, path) == {"lst-grouped"}, path
    assert "lst-grouped" in _names(proxy, listing.keys["unlimited"], "/model/info")
    assert "lst-grouped" not in _names(proxy, listing.keys["key-one-model"], "/model/info")
    for path in ("/v1/models", *INFO_ROUTES, "/v2/model/info", "/model_group/info"):
        assert "lst-grouped" not in _names(proxy, listing.other.admin_key, path), path
