"""Two accounts that both call a model `gpt-4o`, each backed by its own fake upstream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

SERVE_LIMIT_S = 45.0  # LiteLLM's DB reload interval (30 s) plus start-up slack


@dataclass
class ModelAccount:
    world: AccountWorld
    upstream: FakeUpstream  # serves the account's gpt-4o
    backup: FakeUpstream  # serves the account's gpt-4o-backup
    provider_key: str
    gpt4o_id: str

    def admin(self, base_url: str) -> httpx.Client:
        return self.world.client(base_url, self.world.admin_key)


def ok(response: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict = response.json()  # type: ignore[type-arg]
    return body


def chat(base_url: str, key: str, model: str, text: str = "hello", **extra: object) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": text}], **extra},
        timeout=60,
    )


def _wait_for(base_url: str, key: str, model: str, status: int, what: str, limit: float, workers: int) -> float:
    """Seconds until each of the proxy's ``workers`` answers ``status`` for ``model``.

    A worker is told apart by ``/atrium/status`` (its pid) asked on the same connection as the
    chat: the kernel hands connections to workers unevenly, so a run of answers in a row may all
    come from the one worker that already has the change."""
    started = time.monotonic()
    answers: dict[int, int] = {}
    while time.monotonic() - started < limit:
        with httpx.Client(base_url=base_url, timeout=60) as connection:  # one connection: one worker
            pid = connection.get("/atrium/status").json()["worker_pid"]
            code = connection.post(
                "/v1/chat/completions",
                headers={"Authorization": f"Bearer {key}"},
                json={"model": model, "messages": [{"role": "user", "content": "probe"}]},
            ).status_code
            if connection.get("/atrium/status").json()["worker_pid"] == pid:  # still the same worker
                answers[pid] = code
        if len(answers) >= workers and all(answer == status for answer in answers.values()):
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{model} was not {what} by every worker of {base_url} within {limit}s: {answers}")


def wait_until_served(base_url: str, key: str, model: str, limit: float = SERVE_LIMIT_S, workers: int = 2) -> float:
    return _wait_for(base_url, key, model, 200, "served", limit, workers)


def wait_until_gone(base_url: str, key: str, model: str, limit: float = SERVE_LIMIT_S, workers: int = 2) -> float:
    return _wait_for(base_url, key, model, 404, "removed", limit, workers)


def _add_account_models(base_url: str, world: AccountWorld, tag: str, *, use_credential: bool) -> ModelAccount:
    upstream = FakeUpstream(f"{tag}-main").start()
    backup = FakeUpstream(f"{tag}-backup").start()
    provider_key = f"sk-up-{tag}"
    admin = world.client(base_url, world.admin_key)
    params: dict[str, object] = {"model": "openai/gpt-4o", "api_base": upstream.base_url}
    if use_credential:
        ok(
            admin.post(
                "/credentials",
                json={"credential_name": "openai-main", "credential_values": {"api_key": provider_key}},
            )
        )
        params["litellm_credential_name"] = "openai-main"
    else:
        params["api_key"] = provider_key
    created = ok(
        admin.post(
            "/model/new",
            json={
                "model_name": "gpt-4o",
                "litellm_params": params,
                "model_info": {"atrium_fallbacks": ["gpt-4o-backup"]},
            },
        )
    )
    ok(
        admin.post(
            "/model/new",
            json={
                "model_name": "gpt-4o-backup",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": backup.base_url,
                    "api_key": f"{provider_key}-backup",
                },
            },
        )
    )
    return ModelAccount(world, upstream, backup, provider_key, created["model_info"]["id"])


def _model_account(proxy: ProxyProcess, master_key: str, tag: str, *, use_credential: bool) -> Iterator[ModelAccount]:
    world = build_account(proxy.base_url, master_key, f"mdl{tag.lower()}")
    account = _add_account_models(proxy.base_url, world, tag, use_credential=use_credential)
    yield account
    account.upstream.stop()
    account.backup.stop()


@pytest.fixture(scope="package")
def models_a(proxy: ProxyProcess, master_key: str) -> Iterator[ModelAccount]:
    """A's gpt-4o takes its provider key from a credential of A's."""
    yield from _model_account(proxy, master_key, "A", use_credential=True)


@pytest.fixture(scope="package")
def models_b(proxy: ProxyProcess, master_key: str) -> Iterator[ModelAccount]:
    """B's gpt-4o carries its provider key inline."""
    yield from _model_account(proxy, master_key, "B", use_credential=False)


@pytest.fixture(scope="package")
def served(proxy: ProxyProcess, models_a: ModelAccount, models_b: ModelAccount) -> tuple[ModelAccount, ModelAccount]:
    for account in (models_a, models_b):
        for model in ("gpt-4o", "gpt-4o-backup"):
            wait_until_served(proxy.base_url, account.world.admin_key, model)
    return models_a, models_b
