"""Model changes made through one replica are served by another, without a restart.

Two second replicas: one without Redis, which learns of the change only through LiteLLM's
periodic reload of DB models (PROXY_CONFIG_RELOAD_INTERVAL_SECONDS, the slowest path), and
one sharing the session's Redis, where LiteLLM's config-sync channel resyncs at once.
The measured figures are printed (docs/models.md quotes them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ModelAccount, ok, wait_until_gone, wait_until_served
from tests_support_config import gateway_config

from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess

RELOAD_INTERVAL_S = 5  # the Redis replica keeps LiteLLM's default (30 s): only the sync can be faster
# LiteLLM's config-sync subscriber resyncs after a 1 s debounce plus up to 5 s jitter, at most
# once per 10 s: a delete right after a create waits out that 10 s.
DEADLINE_S = {"reload-timer": 2 * RELOAD_INTERVAL_S + 10, "redis-sync": 1 + 5 + 10 + 8}


@pytest.fixture(scope="module", params=["reload-timer", "redis-sync"])
def second_replica(
    request: pytest.FixtureRequest,
    workdir: Path,
    database_url: str,
    redis_url: str,
    master_key: str,
    upstream: FakeUpstream,
) -> Iterator[ProxyProcess]:
    replica = ProxyProcess(
        workdir,
        database_url=database_url,
        redis_url=redis_url if request.param == "redis-sync" else None,
        master_key=master_key,
        config=gateway_config(upstream),
        workers=1,
        extra_env={"PROXY_CONFIG_RELOAD_INTERVAL_SECONDS": str(RELOAD_INTERVAL_S)}
        if request.param == "reload-timer"
        else {},
    )
    replica.path_kind = request.param  # type: ignore[attr-defined]
    replica.start()
    yield replica
    replica.stop()


def test_model_written_through_one_replica_is_served_and_removed_on_another(
    proxy: ProxyProcess, second_replica: ProxyProcess, models_a: ModelAccount
) -> None:
    admin = models_a.admin(proxy.base_url)
    key = models_a.world.admin_key
    kind = second_replica.path_kind  # type: ignore[attr-defined]
    created = ok(
        admin.post(
            "/model/new",
            json={
                "model_name": f"propagated-{second_replica.port}",
                "litellm_params": {"model": "openai/p", "api_base": models_a.upstream.base_url, "api_key": "sk-p"},
            },
        )
    )
    took = wait_until_served(
        second_replica.base_url, key, f"propagated-{second_replica.port}", limit=DEADLINE_S[kind], workers=1
    )
    print(f"[{kind}] model served by the second replica after {took:.1f}s")
    ok(admin.post("/model/delete", json={"id": created["model_info"]["id"]}))
    gone = wait_until_gone(
        second_replica.base_url, key, f"propagated-{second_replica.port}", limit=DEADLINE_S[kind], workers=1
    )
    print(f"[{kind}] model gone from the second replica after {gone:.1f}s")
