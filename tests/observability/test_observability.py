"""Request ids, traces and metrics with the account on them, on a proxy with LiteLLM's own
``otel`` (OTLP/HTTP to a loopback receiver) and ``prometheus`` callbacks (docs/observability.md)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import openai
import pytest
from tests_support_config import gateway_config

from extensions import litellm
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.otlp import OtlpReceiver, ReceivedSpan
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

T = TypeVar("T")
REQUEST_SPAN = "Received Proxy Server Request"
ATTRS = ("atrium.account_id", "atrium.team_id", "atrium.key_alias")


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def obs_proxy(
    workdir: Path, database_url: str, redis_url: str, upstream: FakeUpstream, master_key: str, otlp: OtlpReceiver
) -> Iterator[ProxyProcess]:
    config = gateway_config(upstream)
    config["litellm_settings"] = {"callbacks": ["otel", "prometheus"]}
    server = ProxyProcess(
        workdir,
        database_url=database_url,
        redis_url=redis_url,
        master_key=master_key,
        config=config,
        workers=1,  # one registry: the scrape sees every request (PROMETHEUS_MULTIPROC_DIR is not set)
        extra_env={"OTEL_EXPORTER": "otlp_http", "OTEL_ENDPOINT": otlp.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def accounts(obs_proxy: ProxyProcess, master_key: str) -> tuple[AccountWorld, AccountWorld]:
    suffix = uuid.uuid4().hex[:6]
    return (
        build_account(obs_proxy.base_url, master_key, f"obsa{suffix}"),
        build_account(obs_proxy.base_url, master_key, f"obsb{suffix}"),
    )


def _eventually(probe: Callable[[], T | None], what: str, limit: float = 60.0) -> T:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.3)
    raise AssertionError(f"never saw {what}")


def _spend_metadata(dsn: str, request_id: str) -> tuple[str, dict[str, Any]] | None:
    async def run() -> tuple[str, dict[str, Any]] | None:
        conn = await asyncpg.connect(dsn)
        try:
            row = await conn.fetchrow(
                'SELECT request_id, metadata FROM "LiteLLM_SpendLogs" '
                "WHERE metadata->'spend_logs_metadata'->>'atrium_request_id' = $1",
                request_id,
            )
        finally:
            await conn.close()
        if row is None:
            return None
        metadata = row["metadata"]
        return row["request_id"], json.loads(metadata) if isinstance(metadata, str) else metadata

    return asyncio.run(run())


def _chat(proxy: ProxyProcess, key: str, request_id: str, *, stream: bool = False) -> httpx.Headers:
    client = openai.OpenAI(api_key=key, base_url=f"{proxy.base_url}/v1", default_headers={"x-request-id": request_id})
    messages: Any = [{"role": "user", "content": "observed"}]
    raw = client.chat.completions.with_raw_response.create(model="gpt-fake", messages=messages, stream=stream)
    if stream:
        list(raw.parse())
    else:
        raw.parse()
    return raw.headers


def test_llm_answers_carry_the_callers_request_id_and_litellms_call_id(
    obs_proxy: ProxyProcess, accounts: tuple[AccountWorld, AccountWorld], database_url: str
) -> None:
    a, _ = accounts
    request_id = f"obs-{uuid.uuid4().hex}"
    headers = _chat(obs_proxy, a.member_key, request_id)
    assert headers.get_list("x-request-id") == [request_id]
    call_id = headers.get("x-litellm-call-id")
    assert call_id and call_id != request_id  # LiteLLM's own id, not the caller's
    streamed = _chat(obs_proxy, a.member_key, f"{request_id}-s", stream=True)
    assert streamed.get_list("x-request-id") == [f"{request_id}-s"] and streamed.get("x-litellm-call-id")

    row_id, metadata = _eventually(lambda: _spend_metadata(database_url, request_id), "the spend-log row")
    assert row_id != request_id  # the caller's id is not the spend log's primary key
    assert metadata["spend_logs_metadata"] == {"atrium_request_id": request_id, "atrium_account_id": a.account_id}


def test_every_answer_carries_exactly_one_request_id(
    obs_proxy: ProxyProcess, accounts: tuple[AccountWorld, AccountWorld], master_key: str
) -> None:
    a, _ = accounts
    member = a.client(obs_proxy.base_url, a.member_key)
    admin = httpx.Client(base_url=obs_proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    anonymous = httpx.Client(base_url=obs_proxy.base_url, timeout=30)
    answers = {
        "LiteLLM route": admin.get("/key/list", headers={"x-request-id": "rid-litellm"}),
        "Atrium route": admin.get("/atrium/status", headers={"x-request-id": "rid-atrium"}),
        "refusal": member.get("/atrium/metrics", headers={"x-request-id": "rid-refused"}),
        "404": anonymous.get(f"/no-such-path-{uuid.uuid4().hex}", headers={"x-request-id": "rid-404"}),
        "401": anonymous.get("/key/list", headers={"x-request-id": "rid-401"}),
        "public": anonymous.get("/health/liveliness", headers={"x-request-id": "rid-public"}),
        # Passed on by the account middleware untouched (no credentials): only the outer layer stamps it.
        "CORS preflight": anonymous.options(
            "/v1/chat/completions",
            headers={
                "origin": "http://app.example",
                "access-control-request-method": "POST",
                "x-request-id": "rid-cors",
            },
        ),
    }
    assert answers["refusal"].status_code == 403 and answers["404"].status_code == 404
    for what, answer in answers.items():
        assert answer.headers.get_list("x-request-id") == [answer.request.headers["x-request-id"]], what
    generated = anonymous.get("/health/liveliness", headers={"x-request-id": "not plain!"})
    assert generated.headers.get_list("x-request-id") != ["not plain!"] and generated.headers["x-request-id"]


def _request_span(otlp: OtlpReceiver, a: AccountWorld) -> Callable[[], tuple[ReceivedSpan, list[ReceivedSpan]] | None]:
    def probe() -> tuple[ReceivedSpan, list[ReceivedSpan]] | None:
        spans = otlp.spans()
        for span in spans:
            if span.name == REQUEST_SPAN and span.attributes.get("atrium.key_alias") == f"{a.slug}-member-key":
                children = [s for s in spans if s.parent_span_id == span.span_id and s.name.startswith("atrium.")]
                if {"atrium.resolve_account", "atrium.budget_admission"} <= {c.name for c in children}:
                    return span, children
        return None

    return probe


def test_litellms_request_span_and_atriums_children_carry_the_account(
    obs_proxy: ProxyProcess, accounts: tuple[AccountWorld, AccountWorld], otlp: OtlpReceiver
) -> None:
    a, _ = accounts
    _chat(obs_proxy, a.member_key, f"trace-{uuid.uuid4().hex}")
    parent, children = _eventually(_request_span(otlp, a), "LiteLLM's request span with Atrium's children")
    expected = {
        "atrium.account_id": a.account_id,
        "atrium.team_id": a.team_id,
        "atrium.key_alias": f"{a.slug}-member-key",
    }
    assert {k: parent.attributes.get(k) for k in ATTRS} == expected
    names = {c.name for c in children}
    assert {"atrium.route_policy", "atrium.model_guard", "atrium.isolation_checks"} <= names, names
    checks = next(c for c in children if c.name == "atrium.isolation_checks")
    assert "References" in str(checks.attributes.get("atrium.parts", "")).split(","), checks.attributes
    for child in children:
        assert child.trace_id == parent.trace_id
        assert {k: child.attributes.get(k) for k in ATTRS} == expected, child.name


def test_atrium_metrics_show_an_account_only_its_own_series(
    obs_proxy: ProxyProcess, accounts: tuple[AccountWorld, AccountWorld], master_key: str
) -> None:
    a, b = accounts
    for world in (a, b):
        _chat(obs_proxy, world.member_key, f"metrics-{uuid.uuid4().hex}")
    label = litellm.PROMETHEUS_ACCOUNT_LABEL
    root = httpx.Client(base_url=obs_proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    everything = root.get("/atrium/metrics")
    assert everything.status_code == 200, everything.text
    # LiteLLM's own series carry the account label (the same registry its /metrics serves).
    assert f'{label}="{a.account_id}"' in everything.text and f'{label}="{b.account_id}"' in everything.text
    assert f'{label}="{b.account_id}"' in root.get("/metrics/").text

    own = a.client(obs_proxy.base_url, a.admin_key).get("/atrium/metrics")
    assert own.status_code == 200, own.text
    assert f'{label}="{a.account_id}"' in own.text and "litellm_proxy_total_requests_metric" in own.text
    for canary in (b.account_id, f"{b.slug}-", b.team_id):
        assert canary not in own.text
    samples = [line for line in own.text.splitlines() if line and not line.startswith("#")]
    assert samples and all(f'{label}="{a.account_id}"' in line for line in samples)

    only_b = root.get("/atrium/metrics", params={"account_id": b.account_id}).text
    assert f'{label}="{b.account_id}"' in only_b and a.account_id not in only_b
    admin_a = a.client(obs_proxy.base_url, a.admin_key)
    assert admin_a.get("/atrium/metrics", params={"account_id": b.account_id}).status_code == 404
    assert admin_a.get("/metrics/").status_code == 403  # LiteLLM's unfiltered exposition: not for tenants
    assert a.client(obs_proxy.base_url, a.member_key).get("/atrium/metrics").status_code == 403
