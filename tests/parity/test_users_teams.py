"""Parity: user new / info / update and team new / info."""

from __future__ import annotations

import pytest
from parity_support import Pair, Side, compare

ROW = ("account-fields",)


def test_user_lifecycle_matches_litellm(pair: Pair) -> None:
    tags = pair.tags("user")
    v, a = pair.vanilla, pair.atrium

    def user(side: Side) -> str:
        return f"{side.tag('user')}-u1"

    with v.client() as vc, a.client() as ac:
        made = [
            c.post(
                "/user/new",
                json={
                    "user_id": user(s),
                    "user_email": f"{user(s)}@example.com",
                    "max_budget": 3,
                    "models": ["gpt-fake"],
                },
            )
            for s, c in ((v, vc), (a, ac))
        ]
        compare(*made, tags=tags, allowed=ROW)
        updated = [
            c.post("/user/update", json={"user_id": user(s), "max_budget": 9, "user_alias": "renamed"})
            for s, c in ((v, vc), (a, ac))
        ]
        compare(*updated, tags=tags, allowed=ROW)
        missing = [
            c.post("/user/update", json={"user_id": f"{s.tag('user')}-nobody", "max_budget": 1})
            for s, c in ((v, vc), (a, ac))
        ]
        compare(*missing, tags=tags, allowed=ROW)  # LiteLLM upserts: the user is created


@pytest.mark.parametrize("by_id", [False, True], ids=["no-params", "own-user-id"])
def test_user_info_of_ones_own_user_matches_litellm(pair: Pair, by_id: bool) -> None:
    answers = []
    for side in (pair.vanilla, pair.atrium):
        user_id = side.tag(f"self-{by_id}")
        with side.client() as client:
            made = client.post("/user/new", json={"user_id": user_id, "user_role": "internal_user"})
            assert made.status_code == 200, made.text
        with side.client(made.json()["key"]) as own:
            answers.append(own.get("/user/info", params={"user_id": user_id} if by_id else None))
    assert answers[0].status_code == 200, answers[0].text
    compare(*answers, tags=pair.tags(f"self-{by_id}"), allowed=ROW)


def test_user_info_of_an_account_user_matches_litellm(pair: Pair) -> None:
    v, a = pair.vanilla, pair.atrium
    with v.client() as vc, a.client() as ac:
        for s, c in ((v, vc), (a, ac)):
            made = c.post("/user/new", json={"user_id": s.tag("info-u1")})
            assert made.status_code == 200, made.text
        info = [c.get("/user/info", params={"user_id": s.tag("info-u1")}) for s, c in ((v, vc), (a, ac))]
        compare(*info, tags=pair.tags("info"), allowed=ROW)


def test_team_lifecycle_matches_litellm(pair: Pair) -> None:
    tags = pair.tags("team")
    v, a = pair.vanilla, pair.atrium
    with v.client() as vc, a.client() as ac:
        made = [
            c.post(
                "/team/new",
                json={"team_alias": s.tag("team"), "models": ["gpt-fake"], "max_budget": 4, "rpm_limit": 50},
            )
            for s, c in ((v, vc), (a, ac))
        ]
        compare(*made, tags=tags, allowed=ROW)
        info = [
            c.get("/team/info", params={"team_id": r.json()["team_id"]})
            for (s, c), r in zip(((v, vc), (a, ac)), made, strict=True)
        ]
        compare(*info, tags=tags, allowed=ROW)
