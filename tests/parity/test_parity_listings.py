"""Parity: what each model-listing route shows a key, by key limits, team limits, aliases, access groups.

Every Atrium key here is in the parity account, which can use exactly the gateway's global models
(the config's), so the account filter removes nothing and the listings must equal vanilla's.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from parity_support import ACCESS_GROUP, TENANCY_DIFFERENCES, Pair, Side, compare, normalise

INFO_ROUTES = ("/model/info", "/v1/model/info", "/v2/model/info")
LISTING_ROUTES = ("/v1/models", "/model/info", "/v1/model/info", "/v2/model/info", "/model_group/info")
CASES: dict[str, dict[str, Any]] = {
    "unlimited": {},
    "key-limited": {"models": ["gpt-fake"]},
    "team-limited": {"team": ["gpt-fake"]},
    "all-team-models": {"team": ["embed-fake"], "models": ["all-team-models"]},
    "aliases": {"models": ["gpt-fake"], "aliases": {"my-alias": "gpt-fake"}},
    "aliases-unlimited": {"aliases": {"other-alias": "embed-fake"}},
    "access-group": {"models": [ACCESS_GROUP]},
    "team-aliases": {"team": [], "team_aliases": {"team-alias": "gpt-fake"}},
    "wildcard": {"models": ["gpt-*"]},
}


def _key(side: Side, case: str) -> str:
    spec = dict(CASES[case])
    with side.client() as client:
        body: dict[str, Any] = {k: v for k, v in spec.items() if k not in ("team", "team_aliases")}
        if "team" in spec:
            team_body = {"team_alias": side.tag(f"lst-{case}"), "models": spec["team"]}
            if "team_aliases" in spec:
                team_body["model_aliases"] = spec["team_aliases"]
            team = client.post("/team/new", json=team_body)
            assert team.status_code == 200, team.text
            body["team_id"] = team.json()["team_id"]
        made = client.post("/key/generate", json=body)
        assert made.status_code == 200, made.text
        key: str = made.json()["key"]
        return key


@pytest.fixture(scope="module")
def keys(pair: Pair) -> dict[tuple[str, str], str]:
    return {(side.name, case): _key(side, case) for side in (pair.vanilla, pair.atrium) for case in CASES}


@pytest.mark.parametrize("route", LISTING_ROUTES)
@pytest.mark.parametrize("case", list(CASES))
def test_listing_matches_litellm(pair: Pair, keys: dict[tuple[str, str], str], case: str, route: str) -> None:
    def listed(side: Side) -> httpx.Response:
        with side.client(keys[side.name, case]) as client:
            return client.get(route)

    vanilla, atrium = listed(pair.vanilla), listed(pair.atrium)
    if route in INFO_ROUTES:
        assert TENANCY_DIFFERENCES["model-presentation"]  # the one place this difference is accepted
        assert atrium.status_code == vanilla.status_code == 200, (vanilla.text[:300], atrium.text[:300])
        assert _deployments(atrium) == _deployments(vanilla), (_deployments(vanilla), _deployments(atrium))
    else:
        compare(vanilla, atrium, tags=pair.tags(f"lst-{case}"))


def _deployments(response: httpx.Response) -> list[tuple[str, str, tuple[str, ...]]]:
    """(public name, underlying model, access groups) of each listed deployment."""
    return sorted(
        (
            normalise(d["model_name"]),
            normalise(d["litellm_params"]["model"]),
            tuple(sorted((d.get("model_info") or {}).get("access_groups") or ())),
        )
        for d in response.json()["data"]
    )
