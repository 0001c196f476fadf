"""Provider objects stay with the account whose deployment made them.

Account B owns a model on its own fake upstream (its own provider key) and creates a
file, a batch, a response and a vector store through it; ids LiteLLM cannot be made to
create on a fake upstream (videos, containers, characters) are encoded with LiteLLM's own
encoders around B's deployment id. Then every provider-object route (GENERATED: the ``llm``
routes of the served app that ``provider_objects.is_object_route`` selects) is called by
each of A's principals (admin key, member key, UI session key) with B's ids in the path,
with B's selectors (internal name, deployment id) in every place LiteLLM reads one, and
with no selector at all. Each must be 404 in LiteLLM's error shape, never 2xx, never 5xx,
and B's upstream must record no request of A's. The pass-through group is 403 (Atrium's
body) for A's principals and no upstream hears of it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from extensions.app import served_routes
from extensions.models.provider_objects import MODEL_HEADER, is_object_route
from extensions.tenancy.policy.route_policy import RouteClass, load_policy
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld

POLICY = load_policy()
ROUTES = served_routes(include_lazy=True)
MODEL = "objs-model"  # both accounts use this public name, each for its own deployment
PASSTHROUGH_REASON = "provider pass-through"


def _routes(select: Any) -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in ROUTES:
        if route.kind != "http":
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            entry = POLICY.entry_for(method, route.path)
            if entry is not None and select(entry, route.path):
                found.add((method, route.path))
    return sorted(found)


OBJECT_ROUTES = _routes(lambda e, path: e.route_class is RouteClass.LLM and is_object_route(path))
PASSTHROUGH_ROUTES = _routes(lambda e, path: e.reason.startswith(PASSTHROUGH_REASON))


@dataclass
class World:
    a: AccountWorld
    b: AccountWorld
    upstream_a: FakeUpstream
    upstream_b: FakeUpstream
    model_id_a: str
    model_id_b: str
    ids_b: dict[str, str]  # kind -> an id of B's objects

    @property
    def internal_b(self) -> str:
        return f"{self.b.account_id}/{MODEL}"


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _own_model(base_url: str, world: AccountWorld, upstream: FakeUpstream) -> str:
    admin = world.client(base_url, world.admin_key)
    created = _ok(
        admin.post(
            "/model/new",
            json={
                "model_name": MODEL,
                "litellm_params": {
                    "model": "openai/gpt-4o",
                    "api_base": upstream.base_url,
                    "api_key": f"sk-objs-{world.slug}",
                },
            },
        )
    )
    return str(created["model_info"]["id"])


def _wait_served(base_url: str, key: str, limit: float = 60.0) -> None:
    started, streak = time.monotonic(), 0
    while time.monotonic() - started < limit:
        response = httpx.post(
            f"{base_url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": MODEL, "messages": [{"role": "user", "content": "probe"}]},
            timeout=30,
        )
        streak = streak + 1 if response.status_code == 200 else 0
        if streak >= 6:
            return
        time.sleep(0.2 if streak else 0.5)
    raise AssertionError(f"{MODEL} was not served within {limit}s")


def _encoded_ids(model_id: str) -> dict[str, str]:
    """Ids LiteLLM would have minted on B's deployment, built with LiteLLM's own encoders."""
    from litellm.responses.utils import ResponsesAPIRequestUtils
    from litellm.types.videos.utils import encode_character_id_with_provider, encode_video_id_with_provider

    return {
        "video": encode_video_id_with_provider("video_abc123", "openai", model_id),
        "character": encode_character_id_with_provider("char_abc123", "openai", model_id),
        "container": ResponsesAPIRequestUtils.build_container_id("openai", model_id, "cntr_abc123"),
    }


def _create_b_objects(base_url: str, b: AccountWorld, model_id_b: str) -> dict[str, str]:
    admin = b.client(base_url, b.admin_key)
    own = {MODEL_HEADER: MODEL}
    line = json.dumps({"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": MODEL}})
    file_id = _ok(
        admin.post("/v1/files", headers=own, data={"purpose": "batch"}, files={"file": ("b.jsonl", line.encode())})
    )["id"]
    batch = admin.post(
        "/v1/batches",
        headers=own,
        json={"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"},
    )
    response_id = _ok(admin.post("/v1/responses", json={"model": MODEL, "input": "hello"}))["id"]
    return {
        "file": file_id,
        "batch": _ok(batch)["id"],
        "response": response_id,
        **_encoded_ids(model_id_b),
    }


@pytest.fixture(scope="module")
def world(proxy: ProxyProcess, account_a: AccountWorld, account_b: AccountWorld) -> Iterator[World]:
    upstream_a, upstream_b = FakeUpstream("objs-a").start(), FakeUpstream("objs-b").start()
    model_id_a = _own_model(proxy.base_url, account_a, upstream_a)
    model_id_b = _own_model(proxy.base_url, account_b, upstream_b)
    _wait_served(proxy.base_url, account_a.admin_key)
    _wait_served(proxy.base_url, account_b.admin_key)
    ids_b = _create_b_objects(proxy.base_url, account_b, model_id_b)
    yield World(account_a, account_b, upstream_a, upstream_b, model_id_a, model_id_b, ids_b)
    upstream_a.stop()
    upstream_b.stop()


def _principals(world: World) -> dict[str, str]:
    return {"admin": world.a.admin_key, "member": world.a.member_key, "ui-session": world.a.ui_session_key}


def _id_for(param: str, ids: dict[str, str]) -> str:
    name = param.lower()
    for kind in ("file", "batch", "response", "video", "character", "container"):
        if kind in name:
            return ids[kind]
    if name == "fine_tuning_job_id":
        return ids["batch"]
    return ids["file"]  # assistants, threads, evals, runs, interactions, agents: a B-encoded id


def _path(template: str, ids: dict[str, str] | None) -> str:
    def value(match: re.Match[str]) -> str:
        param = match.group(1)
        if param == "provider":
            return "hosted_vllm"  # a provider without a pass-through prefix of its own
        return _id_for(param, ids) if ids is not None else f"raw-{param}-1"

    return re.sub(r"\{([^}:]+)(?::[^}]+)?\}", value, template)


def _has_ids(template: str) -> bool:
    return any(p not in ("provider",) for p in re.findall(r"\{([^}:]+)", template))


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]
    body: dict[str, Any]


def _cases(method: str, template: str, world: World) -> list[Case]:
    raw = _path(template, None)
    cases = [Case("no selector", raw, {}, {}, {})]
    if _has_ids(template):
        foreign = _path(template, world.ids_b)
        cases.append(Case("B's ids", foreign, {}, {}, {}))
        cases.append(Case("B's ids + A's own model", foreign, {MODEL_HEADER: MODEL}, {}, {}))
    for selector in (world.internal_b, world.model_id_b):
        cases.append(Case(f"header {selector}", raw, {MODEL_HEADER: selector}, {}, {}))
        for field in ("model", "target_model_names"):
            cases.append(Case(f"query {field}={selector}", raw, {}, {field: selector}, {}))
            if method not in ("GET", "DELETE"):
                cases.append(Case(f"body {field}={selector}", raw, {}, {}, {field: selector}))
    if method not in ("GET", "DELETE"):
        cases.append(Case("provider only", raw, {}, {}, {"custom_llm_provider": "openai"}))
    return cases


def _expected_refusal(method: str, path: str) -> tuple[int, str | None]:
    """404 (LiteLLM's shape) on a provider-object route; 403 (Atrium's) where the concrete
    path is shadowed by a pass-through prefix and so classifies as super_admin."""
    found = POLICY.classify(method, path)
    if found is not None and found.route_class is RouteClass.LLM:
        return 404, None
    return 403, "route_not_allowed"


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}  # not JSON (file content, say): never the refusal expected
    return body if isinstance(body, dict) else {}


def _b_leaked(world: World, response: httpx.Response) -> list[str]:
    sent = (
        str(response.request.url)
        + response.request.content.decode(errors="replace")
        + json.dumps(dict(response.request.headers))
    )
    canaries = [*world.b.canaries, world.upstream_b.name, f"sk-objs-{world.b.slug}"]
    return [c for c in canaries if c in response.text and c not in sent]


def test_the_generated_route_lists_cover_every_object_family() -> None:
    families = {re.sub(r"^(?:/\{provider\})?(?:/v1beta|/v1)?/", "", t).split("/")[0] for _, t in OBJECT_ROUTES}
    assert {"files", "batches", "fine_tuning", "assistants", "threads", "containers", "evals"} <= families
    assert {"vector_stores", "videos", "interactions", "responses", "agents"} <= families
    assert len(OBJECT_ROUTES) > 120 and len(PASSTHROUGH_ROUTES) > 25


def test_foreign_ids_and_selectors_are_404_on_every_provider_object_route(
    proxy: ProxyProcess, world: World, upstream: FakeUpstream
) -> None:
    seen_b, seen_primary = len(world.upstream_b.requests), len(upstream.requests)
    wrong: list[str] = []
    swept = 0
    for who, key in _principals(world).items():
        with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for method, template in OBJECT_ROUTES:
                for case in _cases(method, template, world):
                    response = client.request(
                        method,
                        case.path,
                        headers=case.headers,
                        params=case.params,
                        json=case.body if method not in ("GET", "DELETE") else None,
                    )
                    swept += 1
                    status, code = _expected_refusal(method, case.path)
                    body = _json_or_empty(response)
                    error = body.get("error") if isinstance(body.get("error"), dict) else {}
                    shaped = "message" in error and (code is None or error.get("type") == code)
                    if response.status_code != status or not shaped or _b_leaked(world, response):
                        wrong.append(
                            f"{who} {method} {template} [{case.name}] -> {response.status_code} {response.text[:200]}"
                        )
    assert swept > 3 * len(OBJECT_ROUTES) * 5
    assert not wrong, f"{len(wrong)} of {swept} requests not refused:\n" + "\n".join(wrong[:150])
    assert world.upstream_b.requests[seen_b:] == [], "B's upstream (B's provider key) served A's requests"
    assert upstream.requests[seen_primary:] == [], "the operator's upstream served A's requests"


def test_multipart_upload_with_a_foreign_model_is_404(proxy: ProxyProcess, world: World) -> None:
    seen_b = len(world.upstream_b.requests)
    for key in _principals(world).values():
        for field in ("model", "target_model_names"):
            for selector in (world.internal_b, world.model_id_b):
                response = httpx.post(
                    f"{proxy.base_url}/v1/files",
                    headers={"Authorization": f"Bearer {key}"},
                    data={"purpose": "batch", field: selector},
                    files={"file": ("a.jsonl", b"{}")},
                    timeout=30,
                )
                assert response.status_code == 404, response.text
                assert response.json()["error"]["param"] == field
    assert world.upstream_b.requests[seen_b:] == []


def test_foreign_response_and_vector_store_ids_in_inference_bodies_are_404(proxy: ProxyProcess, world: World) -> None:
    seen_b = len(world.upstream_b.requests)
    for key in _principals(world).values():
        response = httpx.post(
            f"{proxy.base_url}/v1/responses",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": MODEL, "input": "x", "previous_response_id": world.ids_b["response"]},
            timeout=30,
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["param"] == "previous_response_id"
    assert world.upstream_b.requests[seen_b:] == []


def test_own_objects_work_with_the_accounts_own_provider_key(proxy: ProxyProcess, world: World) -> None:
    admin = world.a.client(proxy.base_url, world.a.admin_key)
    own = {MODEL_HEADER: MODEL}
    seen_a = len(world.upstream_a.requests)
    line = json.dumps({"custom_id": "1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": MODEL}})
    upload = {"file": ("a.jsonl", line.encode())}
    created = _ok(admin.post("/v1/files", headers=own, data={"purpose": "batch"}, files=upload))
    fetched = _ok(admin.get(f"/v1/files/{created['id']}"))  # the id itself names A's deployment
    assert fetched["id"] == created["id"]
    listed = _ok(admin.get("/v1/files", headers=own))
    assert world.b.account_id not in json.dumps(listed)
    answered = _ok(admin.post("/v1/responses", json={"model": MODEL, "input": "hi"}))
    _ok(admin.get(f"/v1/responses/{answered['id']}"))
    keys = {r.authorization for r in world.upstream_a.requests[seen_a:]}
    assert keys == {f"Bearer sk-objs-{world.a.slug}"}, keys
    # A's own selector does not open B's object: the id's deployment decides.
    refused = admin.get(f"/v1/files/{world.ids_b['file']}/content", headers=own)
    assert refused.status_code == 404, refused.text


def test_passthrough_routes_are_closed_to_tenant_principals(
    proxy: ProxyProcess, world: World, upstream: FakeUpstream
) -> None:
    seen = [len(u.requests) for u in (upstream, world.upstream_a, world.upstream_b)]
    wrong: list[str] = []
    for who, key in _principals(world).items():
        with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for method, template in PASSTHROUGH_ROUTES:
                path = re.sub(
                    r"\{([^}:]+)(?::[^}]+)?\}",
                    lambda m: "v1/chat/completions" if m.group(1) == "endpoint" else "x",
                    template,
                )
                response = client.request(method if method != "*" else "POST", path, json={"model": MODEL})
                error = response.json().get("error", {}) if response.status_code == 403 else {}
                if response.status_code != 403 or error.get("type") != "route_not_allowed":
                    wrong.append(f"{who} {method} {template} -> {response.status_code} {response.text[:160]}")
    assert not wrong, "pass-through reachable by a tenant principal:\n" + "\n".join(wrong)
    assert [len(u.requests) for u in (upstream, world.upstream_a, world.upstream_b)] == seen


def test_own_selectors_reach_only_the_accounts_own_upstream(
    proxy: ProxyProcess, world: World, upstream: FakeUpstream
) -> None:
    """A's own model selected in every way LiteLLM reads one: each request is either refused
    (LiteLLM would not honour that selector and would fall back to the operator's provider
    credentials) or served by A's upstream with A's key; nothing else hears of it."""
    seen = [len(u.requests) for u in (upstream, world.upstream_b)]
    seen_a = len(world.upstream_a.requests)
    escaped: list[str] = []
    with httpx.Client(
        base_url=proxy.base_url, headers={"Authorization": f"Bearer {world.a.admin_key}"}, timeout=30
    ) as admin:
        for method, template in OBJECT_ROUTES:
            placements: list[tuple[dict[str, str], dict[str, str], dict[str, Any]]] = [
                ({MODEL_HEADER: MODEL}, {}, {}),
                ({}, {"model": MODEL}, {}),
            ]
            if method not in ("GET", "DELETE"):
                placements.append(({}, {}, {"model": MODEL}))
            for headers, params, body in placements:
                before, before_primary = len(world.upstream_a.requests), len(upstream.requests)
                response = admin.request(
                    method,
                    _path(template, None),
                    headers=headers,
                    params=params,
                    json=body if method not in ("GET", "DELETE") else None,
                )
                landed = len(world.upstream_a.requests) > before
                where = f"{method} {template} {headers or params or body} -> {response.status_code}"
                if response.status_code < 400 and not landed:
                    escaped.append(where)
                if len(upstream.requests) > before_primary:
                    escaped.append(f"{where}: reached the operator's upstream")
    assert not escaped, "answered without A's own upstream:\n" + "\n".join(escaped)
    assert [len(u.requests) for u in (upstream, world.upstream_b)] == seen
    keys = {r.authorization for r in world.upstream_a.requests[seen_a:]}
    assert keys <= {f"Bearer sk-objs-{world.a.slug}"}, keys


def test_passthrough_websockets_are_closed_to_tenant_principals(proxy: ProxyProcess, world: World) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    routes = sorted(
        {r.path for r in ROUTES if r.kind == "websocket"} & {e.template for e in POLICY.entries if e.method == "WS"}
    )
    closed = [
        t for t in routes if (e := POLICY.entry_for("WS", t)) is not None and e.reason.startswith(PASSTHROUGH_REASON)
    ]
    assert closed, "no pass-through websocket routes found"
    opened: list[str] = []
    ws_base = proxy.base_url.replace("http://", "ws://")
    for key in _principals(world).values():
        for template in closed:
            path = re.sub(r"\{([^}:]+)(?::[^}]+)?\}", "v1/realtime", template)
            try:
                auth = {"Authorization": f"Bearer {key}"}
                with connect(f"{ws_base}{path}", additional_headers=auth, open_timeout=30):
                    opened.append(template)
            except InvalidStatus as exc:
                assert exc.response.status_code == 403, (template, exc.response.status_code)
    assert not opened, f"pass-through websockets accepted a tenant principal: {opened}"
