"""One vanilla LiteLLM and one Atrium proxy for the parity suite, same config, same fake upstream.

Vanilla runs the venv's ``litellm`` CLI on a PostgreSQL database of its own, Atrium runs ``atrium
serve`` on the session's. Both are fully migrated: vanilla uses the same generated Prisma client (the
offline engine, as ``scripts/bench_overhead.py`` does), which selects Atrium's ``account_id`` columns.
One worker each: rate limits are then counted in one process on both sides (vanilla has no Redis to share them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from parity_support import ACCESS_GROUP, Pair, Proxies, Side
from tests_support_config import gateway_config

from extensions import litellm
from extensions.db.migrate import discover, migrate
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.services import PostgresServer
from extensions.testing.vanilla import COMMON_ENV, vanilla_proxy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def parity_proxies(
    workdir: Path, postgres: PostgresServer, database_url: str, redis_url: str, upstream: FakeUpstream, master_key: str
) -> Iterator[Proxies]:
    vanilla_dsn = postgres.create_database("parity_vanilla")
    asyncio.run(migrate(vanilla_dsn, discover(litellm.shipped_migrations_dir(), ROOT / "prisma" / "migrations")))
    config = gateway_config(upstream)
    # An access group on one global model, for the listing cases (LiteLLM: model_info.access_groups).
    config["model_list"][0]["model_info"] = {"access_groups": [ACCESS_GROUP]}
    image = {"model": "openai/image-fake", "api_base": upstream.base_url, "api_key": "sk-upstream-primary"}
    config["model_list"].append(
        {"model_name": "image-fake", "litellm_params": image, "model_info": {"mode": "image_generation"}}
    )
    vanilla = vanilla_proxy(workdir, database_url=vanilla_dsn, master_key=master_key, config=config)
    atrium = ProxyProcess(
        workdir,
        database_url=database_url,
        redis_url=redis_url,
        master_key=master_key,
        config=config,
        extra_env=COMMON_ENV,
    )
    try:
        vanilla.start()
        atrium.start()
        root = {"Authorization": f"Bearer {master_key}"}
        with httpx.Client(base_url=atrium.base_url, headers=root, timeout=60) as client:
            account = client.post("/account/new", json={"name": "Parity", "slug": "parity"})
            assert account.status_code == 200, account.text
            account_id = account.json()["account_id"]
            added = client.post("/account/admin/add", json={"account_id": account_id, "user_id": "parity-admin"})
            assert added.status_code == 200, added.text
            key = client.post(
                "/key/generate", headers={"X-Atrium-Account": account_id}, json={"user_id": "parity-admin"}
            )
            assert key.status_code == 200, key.text
        yield Proxies(vanilla, atrium, account_id, key.json()["key"])
    finally:
        atrium.stop()
        vanilla.stop()
        postgres.drop_database(vanilla_dsn)


@pytest.fixture(scope="session", params=["super", "admin"])
def pair(request: pytest.FixtureRequest, parity_proxies: Proxies, master_key: str) -> Pair:
    """Atrium as the super admin acting in the parity account, or as that account's admin."""
    p = parity_proxies
    if request.param == "super":
        atrium = Side("super", p.atrium.base_url, master_key, {"X-Atrium-Account": p.account_id})
    else:
        atrium = Side("admin", p.atrium.base_url, p.admin_key)
    return Pair(Side(f"vanilla-{request.param}", p.vanilla.base_url, master_key), atrium)
