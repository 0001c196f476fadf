"""Parity: budget and rate-limit refusals, health routes, and LLM calls (chat, text completion, embeddings,
images) through the ``openai`` client."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest
from parity_support import Pair, Proxies, Side, compare, normalise

CHAT = {"model": "gpt-fake", "messages": [{"role": "user", "content": "parity"}]}


def _key(side: Side, **body: Any) -> str:
    with side.client() as client:
        made = client.post("/key/generate", json=body)
        assert made.status_code == 200, made.text
        key: str = made.json()["key"]
        return key


def _chat(side: Side, key: str) -> httpx.Response:
    with side.client(key) as client:
        return client.post("/v1/chat/completions", json=CHAT)


def test_exceeded_key_budget_gets_litellms_budget_error(pair: Pair) -> None:
    keys = {s.name: _key(s, max_budget=0) for s in (pair.vanilla, pair.atrium)}
    compare(*(_chat(s, keys[s.name]) for s in (pair.vanilla, pair.atrium)), tags=pair.tags("budget"))


def test_key_crossing_its_budget_gets_litellms_budget_error(pair: Pair) -> None:
    """Spend reaches the budget through real calls; the next call is refused alike.

    Spend is written in batches (proxy_batch_write_at: 1 s), so a call or two may still pass before
    the refusal: the cost in the message then varies, and only the error's kind is compared.
    """
    refusals = []
    for side in (pair.vanilla, pair.atrium):
        key = _key(side, max_budget=0.0001)
        for _ in range(40):  # bounded: the refusal comes within a few batch writes
            reply = _chat(side, key)
            if reply.status_code != 200:
                break
            time.sleep(0.25)
        refusals.append(reply)
    assert refusals[0].status_code != 200, "vanilla never refused the key over its budget"
    kinds = [
        (r.status_code, r.json()["error"]["type"], r.json()["error"]["code"], r.json()["error"]["message"][:26])
        for r in refusals
    ]
    assert kinds[1] == kinds[0]
    assert kinds[0][3] == "Budget has been exceeded! "


def test_key_rpm_limit_gets_litellms_429(pair: Pair) -> None:
    keys = {s.name: _key(s, rpm_limit=1) for s in (pair.vanilla, pair.atrium)}
    first = [_chat(s, keys[s.name]) for s in (pair.vanilla, pair.atrium)]
    assert [r.status_code for r in first] == [200, 200], [r.text[:300] for r in first]
    second = [_chat(s, keys[s.name]) for s in (pair.vanilla, pair.atrium)]
    assert second[0].status_code == 429, second[0].text
    compare(*second, tags=pair.tags("rpm"))


@pytest.mark.parametrize("route", ["/health/liveliness", "/health/readiness", "/health"])
def test_health_routes_for_the_super_admin(parity_proxies: Proxies, master_key: str, route: str) -> None:
    answers = []
    for proxy in (parity_proxies.vanilla, parity_proxies.atrium):
        with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=60) as c:
            answers.append(c.get(route))
    if route != "/health":
        compare(*answers)
        return
    # The super admin's /health checks the whole proxy: the config's models as vanilla does, and
    # also the models that other test modules' accounts keep in the shared session database.
    vanilla, atrium = answers
    assert (vanilla.status_code, set(vanilla.json())) == (atrium.status_code, set(atrium.json())), atrium.text
    for field in ("healthy_endpoints", "unhealthy_endpoints"):
        checked = {json.dumps(normalise(e), sort_keys=True) for e in atrium.json()[field]}
        assert {json.dumps(normalise(e), sort_keys=True) for e in vanilla.json()[field]} <= checked, field


def _openai(side: Side, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{side.base_url}/v1", max_retries=0)


def test_openai_client_calls_match_litellm(pair: Pair) -> None:
    results: list[list[Any]] = []
    for side in (pair.vanilla, pair.atrium):
        client = _openai(side, _key(side))
        chat = client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hello"}])
        embedded = client.embeddings.create(model="embed-fake", input=["one", "two"])
        image = client.images.generate(model="image-fake", prompt="a parity test", n=1)
        results.append(
            [
                normalise(chat.model_dump(exclude={"id", "created", "system_fingerprint"})),
                normalise(embedded.model_dump()),
                normalise(image.model_dump(exclude={"created"})),
            ]
        )
    assert results[1] == results[0]


@pytest.mark.parametrize("key", ["sk-parity-unknown-key", None], ids=["unknown-key", "no-key"])
def test_unknown_or_missing_key_gets_litellms_401(parity_proxies: Proxies, key: str | None) -> None:
    answers = []
    for proxy in (parity_proxies.vanilla, parity_proxies.atrium):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        answers.append(httpx.post(f"{proxy.base_url}/v1/chat/completions", headers=headers, json=CHAT, timeout=60))
    assert answers[0].status_code == 401, answers[0].text
    compare(*answers)


def test_text_completion_through_openai_client_matches_litellm(pair: Pair) -> None:
    results = []
    for side in (pair.vanilla, pair.atrium):
        try:
            reply = _openai(side, _key(side)).completions.create(model="gpt-fake", prompt="say parity")
            results.append(normalise(reply.model_dump(exclude={"id", "created", "system_fingerprint"})))
        except openai.APIStatusError as exc:
            results.append((exc.status_code, normalise(exc.body)))
    assert results[1] == results[0]


@pytest.mark.parametrize(
    "limits",
    [{"models": ["gpt-fake"]}, {"team": ["gpt-fake"]}, {"models": ["gpt-fake"], "aliases": {"my-embed": "embed-fake"}}],
    ids=["key-limited", "team-limited", "alias-outside-limits"],
)
def test_calls_outside_model_limits_get_litellms_refusal(pair: Pair, limits: dict[str, Any]) -> None:
    answers = []
    for side in (pair.vanilla, pair.atrium):
        body = {k: v for k, v in limits.items() if k != "team"}
        if "team" in limits:
            with side.client() as client:
                team = client.post("/team/new", json={"models": limits["team"]})
                assert team.status_code == 200, team.text
                body["team_id"] = team.json()["team_id"]
        model = "my-embed" if "aliases" in limits else "embed-fake"
        with side.client(_key(side, **body)) as client:
            answers.append(client.post("/v1/embeddings", json={"model": model, "input": "x"}))
    assert answers[0].status_code != 200, answers[0].text
    compare(*answers, tags=pair.tags("outside"))


@pytest.mark.parametrize("path", ["/ui.txt", "/definitely/not/a/route"])
def test_a_path_no_route_serves_is_litellms_404(pair: Pair, path: str) -> None:
    """The admin UI probes `/ui.txt` after sign-in: no route, so LiteLLM's 404 for every caller."""
    answers = []
    for side in (pair.vanilla, pair.atrium):
        with side.client() as client:
            answers.append(client.get(path))
    compare(*answers)
