"""The overrun test: one account budget, 2 replicas x 2 workers, 200 concurrent requests from 50 keys
in 5 teams. Settled spend never passes the budget, every refusal is LiteLLM's budget error naming
the account, the ledger, LiteLLM's spend logs and the key and team rows agree to the cent, and each
threshold crossed is alerted exactly once across the replicas, by signed webhook (the receiver
answers 500 twice first) and by mail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from budget_support import fresh_account, run_sql, set_budget
from tests_support_config import gateway_config

from extensions.testing.budget_load import fire, warm_keys
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.smtp import MailCatcher
from extensions.testing.tenants import AccountWorld
from extensions.testing.webhook import WebhookReceiver

BUDGET = 1.00
SECRET = "overrun-test-webhook-secret"
TEAMS, KEYS_PER_TEAM, REQUESTS = 5, 10, 200

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replicas(
    workdir: Path, database_url: str, redis_url: str, upstream: FakeUpstream, master_key: str
) -> Iterator[list[ProxyProcess]]:
    """Two more replicas of two workers each, on the session database and Redis."""
    servers = [
        ProxyProcess(
            workdir,
            database_url=database_url,
            redis_url=redis_url,
            master_key=master_key,
            config=gateway_config(upstream),
            workers=2,
        )
        for _ in range(2)
    ]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _keys(replica: ProxyProcess, account: AccountWorld) -> tuple[list[str], list[str], list[str]]:
    admin = httpx.Client(
        base_url=replica.base_url, headers={"Authorization": f"Bearer {account.admin_key}"}, timeout=60
    )
    teams, keys, tokens = [], [], []
    for t in range(TEAMS):
        team = admin.post("/team/new", json={"team_alias": f"{account.slug}-load-{t}", "models": ["gpt-fake"]})
        assert team.status_code == 200, team.text
        teams.append(team.json()["team_id"])
        for _ in range(KEYS_PER_TEAM):
            key = admin.post("/key/generate", json={"team_id": teams[-1], "models": ["gpt-fake"]})
            assert key.status_code == 200, key.text
            keys.append(key.json()["key"])
            tokens.append(key.json()["token"])
    return teams, keys, tokens


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET, fail_first=2).start()
    yield server
    server.stop()


@pytest.fixture
def mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


def _alert_destinations(replica: ProxyProcess, account: AccountWorld, receiver: WebhookReceiver, mail: int) -> None:
    root = {"Authorization": f"Bearer {replica.master_key}"}
    smtp = {"smtp": {"host": "127.0.0.1", "port": mail}}
    updated = httpx.post(
        f"{replica.base_url}/account/update", json={"account_id": account.account_id, "settings": smtp}, headers=root
    )
    assert updated.status_code == 200, updated.text
    configured = httpx.post(
        f"{replica.base_url}/account/budget/alerts/config",
        json={"webhook_url": receiver.url, "webhook_secret": SECRET, "emails": [f"finance@{account.slug}.example"]},
        headers={"Authorization": f"Bearer {account.admin_key}"},
    )
    assert configured.status_code == 200, configured.text


def test_an_account_budget_is_never_overrun(
    replicas: list[ProxyProcess], database_url: str, receiver: WebhookReceiver, mail: MailCatcher
) -> None:
    account = fresh_account(replicas[0])
    teams, keys, tokens = _keys(replicas[0], account)
    asyncio.run(warm_keys([r.base_url for r in replicas], keys))
    _alert_destinations(replicas[0], account, receiver, mail.port)
    set_budget(replicas[0], account.account_id, max_budget=BUDGET)

    result = asyncio.run(fire([r.base_url for r in replicas], keys, REQUESTS))

    assert result.served > 0 and result.refused, (result.served, len(result.refused))
    for answer in result.refused:
        assert answer.status == 422, answer.body
        error = answer.body["error"]
        assert error["type"] == "budget_exceeded", error
        assert f"Account={account.account_id}" in error["message"] and "Max budget: 1" in error["message"]

    admin = {"Authorization": f"Bearer {account.admin_key}"}
    deadline = time.monotonic() + 60
    while True:
        period = httpx.get(f"{replicas[1].base_url}/account/budget", headers=admin).json()["period"]
        if period["reserved"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert period["reserved"] == 0
    assert period["spend"] <= BUDGET
    assert period["requests"] == result.served

    # LiteLLM's own books, once its batch writers have run: spend logs, keys and teams.
    def books() -> tuple[float, float, float]:
        logs = run_sql(
            database_url,
            'SELECT coalesce(sum(spend), 0) AS s FROM "LiteLLM_SpendLogs" WHERE api_key = ANY($1::text[])',
            tokens,
        )[0]["s"]
        key_rows = run_sql(
            database_url,
            'SELECT coalesce(sum(spend), 0) AS s FROM "LiteLLM_VerificationToken" WHERE token = ANY($1::text[])',
            tokens,
        )[0]["s"]
        team_rows = run_sql(
            database_url,
            'SELECT coalesce(sum(spend), 0) AS s FROM "LiteLLM_TeamTable" WHERE team_id = ANY($1::text[])',
            teams,
        )[0]["s"]
        return float(logs), float(key_rows), float(team_rows)

    deadline = time.monotonic() + 90
    while True:
        logs, key_rows, team_rows = books()
        if all(round(v, 2) == round(period["spend"], 2) for v in (logs, key_rows, team_rows)):
            break
        assert time.monotonic() < deadline, (period["spend"], logs, key_rows, team_rows)
        time.sleep(1)
    print(
        f"\noverrun test: served {result.served}, refused {len(result.refused)}, settled ${period['spend']:.4f} "
        f"of ${BUDGET:.2f}; spend logs ${logs:.4f}, keys ${key_rows:.4f}, teams ${team_rows:.4f}"
    )

    # Alerts: the period's spend crossed 50 % and 80 % (not 95 %); each fired once, across 4 workers.
    crossed = sorted(t for t in (50.0, 80.0, 95.0, 100.0) if period["spend"] >= BUDGET * t / 100)
    deadline = time.monotonic() + 90
    while len({r.headers["X-Atrium-Delivery"] for r in receiver.received if r.answered == 200}) < len(crossed):
        assert time.monotonic() < deadline, [r.json for r in receiver.received]
        time.sleep(0.5)
    time.sleep(3)  # a duplicate would arrive now
    delivered = [r for r in receiver.received if r.answered == 200]
    assert sorted(r.json["threshold"] for r in delivered) == crossed
    assert all(r.signature_ok for r in receiver.received)
    assert len(receiver.received) == len(crossed) + 2  # the two 500s were retried
    assert sorted(float(m["Subject"].split("%")[0].split()[-1]) for m in mail.messages) == crossed


def test_a_plan_change_applies_on_every_replica_within_two_seconds(replicas: list[ProxyProcess]) -> None:
    """Entitlements across replicas: a plan assigned through one replica refuses on the other (each of
    its workers) within 2 s, with 403 entitlement_exceeded."""
    account = fresh_account(replicas[0])
    root = httpx.Client(
        base_url=replicas[0].base_url, headers={"Authorization": f"Bearer {replicas[0].master_key}"}, timeout=30
    )
    plan_id = f"nokeys-{account.slug}"
    assert root.post("/plan/new", json={"plan_id": plan_id, "name": plan_id, "limits": {"max_keys": 0}}).is_success
    other = httpx.Client(
        base_url=replicas[1].base_url, headers={"Authorization": f"Bearer {account.admin_key}"}, timeout=30
    )
    assert other.post("/key/generate", json={}).status_code == 200  # no plan yet
    assigned = root.post("/account/plan/assign", json={"account_id": account.account_id, "plan_id": plan_id})
    assert assigned.status_code == 200, assigned.text
    changed = time.monotonic()
    refusals = 0
    while refusals < 10:  # ten refusals in a row: both workers of the other replica know the plan
        reply = other.post("/key/generate", json={})
        refusals = refusals + 1 if reply.status_code == 403 else 0
        assert time.monotonic() - changed < 2.0 or refusals, reply.text
    assert reply.json()["error"]["code"] == "entitlement_exceeded"
