"""Parity: key generate / info / update / list / delete, their usual errors, as the two Atrium callers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from parity_support import Pair, Side, compare

ROW = ("account-fields",)


def both(pair: Pair, call: Callable[[Side, httpx.Client], httpx.Response]) -> tuple[httpx.Response, httpx.Response]:
    with pair.vanilla.client() as v, pair.atrium.client() as a:
        return call(pair.vanilla, v), call(pair.atrium, a)


def test_key_lifecycle_matches_litellm(pair: Pair) -> None:
    tags = pair.tags("keys")
    generated = both(
        pair,
        lambda s, c: c.post(
            "/key/generate",
            json={
                "models": ["gpt-fake"],
                "key_alias": s.tag("keys"),
                "max_budget": 5,
                "rpm_limit": 100,
                "metadata": {"purpose": "parity"},
                "aliases": {"my-alias": "gpt-fake"},
            },
        ),
    )
    compare(*generated, tags=tags, allowed=ROW)
    key = {pair.vanilla.name: generated[0].json()["key"], pair.atrium.name: generated[1].json()["key"]}

    compare(*both(pair, lambda s, c: c.get("/key/info", params={"key": key[s.name]})), tags=tags, allowed=ROW)
    update = {"max_budget": 7.5, "models": ["gpt-fake", "embed-fake"], "tpm_limit": 1000}
    compare(
        *both(pair, lambda s, c: c.post("/key/update", json={"key": key[s.name], **update})), tags=tags, allowed=ROW
    )
    compare(*both(pair, lambda s, c: c.get("/key/info", params={"key": key[s.name]})), tags=tags, allowed=ROW)
    listed = both(
        pair, lambda s, c: c.get("/key/list", params={"key_alias": s.tag("keys"), "return_full_object": "true"})
    )
    compare(*listed, tags=tags, allowed=ROW)
    assert len(listed[1].json()["keys"]) == 1
    compare(*both(pair, lambda s, c: c.post("/key/delete", json={"keys": [key[s.name]]})), tags=tags, allowed=ROW)
    compare(*both(pair, lambda s, c: c.get("/key/info", params={"key": key[s.name]})), tags=tags, allowed=ROW)


def test_key_errors_match_litellm(pair: Pair) -> None:
    tags = pair.tags("key-errors")
    compare(*both(pair, lambda s, c: c.get("/key/info", params={"key": "sk-does-not-exist"})), tags=tags)
    compare(
        *both(pair, lambda s, c: c.post("/key/update", json={"key": "sk-does-not-exist", "max_budget": 1})), tags=tags
    )
    compare(*both(pair, lambda s, c: c.post("/key/delete", json={"keys": ["sk-does-not-exist"]})), tags=tags)
    compare(*both(pair, lambda s, c: c.post("/key/generate", json={"max_budget": "lots"})), tags=tags)
