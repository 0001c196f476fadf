"""Budget alert destinations and history over the served API (the session proxy, 2 workers).

The account admin sets a webhook and an email; alerts claimed for two accounts are delivered by
the proxy's own workers (once each, signed), and each admin reads only their account's history.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from extensions.budgets.alerts import BudgetAlerts
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.smtp import MailCatcher
from extensions.testing.tenants import AccountWorld, build_account
from extensions.testing.webhook import WebhookReceiver

SECRET = "whsec-routes-0123456789"
PERIOD = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
CONFIG = "/account/budget/alerts/config"
HISTORY = "/account/budget/alerts"


@pytest.fixture(scope="module")
def worlds(proxy: ProxyProcess, master_key: str) -> tuple[AccountWorld, AccountWorld]:
    return (
        build_account(proxy.base_url, master_key, "alerta"),
        build_account(proxy.base_url, master_key, "alertb"),
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


def _client(base_url: str, key: str, account: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"}
    if account is not None:
        headers["X-Atrium-Account"] = account
    return httpx.Client(base_url=base_url, headers=headers, timeout=30)


def _fire(database_url: str, account_ids: list[str]) -> None:
    """Claim 50 % and 80 % for each account, as the ledger would after a settlement."""

    async def run() -> None:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
        try:
            alerts = BudgetAlerts(pool)  # not started: the proxy's workers deliver
            for account_id in account_ids:
                await alerts.settled(
                    account_id=account_id,
                    period_start=PERIOD[0],
                    period_end=PERIOD[1],
                    spend=8.5,
                    max_budget=10.0,
                    thresholds=[50, 80, 100],
                )
        finally:
            await pool.close()

    asyncio.run(run())


def _delivered(admin: httpx.Client, expected: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 90
    while True:
        alerts: list[dict[str, Any]] = admin.get(HISTORY).json()["alerts"]
        deliveries = [d for a in alerts for d in a["deliveries"]]
        if len(deliveries) >= expected and all(d["status"] == "delivered" for d in deliveries):
            return alerts
        if time.monotonic() > deadline:
            raise AssertionError(f"not delivered: {alerts}")
        time.sleep(0.2)


def test_config_is_admin_only_secret_write_only_and_url_checked(
    proxy: ProxyProcess, master_key: str, worlds: tuple[AccountWorld, AccountWorld], database_url: str
) -> None:
    a, _ = worlds
    with _client(proxy.base_url, a.admin_key) as admin, _client(proxy.base_url, a.member_key) as member:
        unset = admin.get(CONFIG)
        assert unset.status_code == 200, unset.text
        assert unset.json()["configured"] is False and unset.json()["account_id"] == a.account_id
        for url in ("http://169.254.169.254/latest/meta-data", "http://10.0.0.8/hook", "http://localhost:9/hook"):
            refused = admin.post(CONFIG, json={"webhook_url": url, "webhook_secret": SECRET})
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["code"] == "egress_refused"
        no_secret = admin.post(CONFIG, json={"webhook_url": "http://127.0.0.1:9/hook"})
        assert no_secret.status_code == 400 and no_secret.json()["error"]["param"] == "webhook_secret"
        too_many = admin.post(CONFIG, json={"emails": [f"a{i}@alerta.example" for i in range(21)]})
        assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "invalid_request"
        bad_email = admin.post(CONFIG, json={"emails": ["a@alerta.example, b@else.example"]})
        assert bad_email.status_code == 400 and bad_email.json()["error"]["param"] == "emails[0]"

        saved = admin.post(
            CONFIG,
            json={"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": SECRET, "emails": ["ops@alerta.example"]},
        )
        kept = admin.post(CONFIG, json={"webhook_url": "http://127.0.0.1:9/hook", "emails": []})
        read = admin.get(CONFIG)
        for response in (saved, kept, read):
            assert response.status_code == 200, response.text
            assert response.json()["webhook_secret_set"] is True and "webhook_secret" not in response.json()
            assert SECRET not in response.text
        assert read.json()["emails"] == [] and read.json()["configured"] is True

        for method, path in (("GET", CONFIG), ("POST", CONFIG), ("GET", HISTORY)):
            assert member.request(method, path, json={}).status_code == 403
    with _client(proxy.base_url, master_key) as root:
        unchosen = root.get(HISTORY)
        assert unchosen.status_code == 403 and "X-Atrium-Account" in unchosen.json()["error"]["hint"]

    async def stored() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return str(
                await conn.fetchval(
                    'SELECT webhook_secret_enc FROM "Atrium_BudgetAlertConfig" WHERE account_id = $1', a.account_id
                )
            )
        finally:
            await conn.close()

    assert SECRET not in asyncio.run(stored())


def test_alerts_are_delivered_once_by_the_proxy_and_each_admin_reads_their_own(
    proxy: ProxyProcess,
    master_key: str,
    worlds: tuple[AccountWorld, AccountWorld],
    database_url: str,
    receiver: WebhookReceiver,
    mail: MailCatcher,
) -> None:
    a, b = worlds
    with _client(proxy.base_url, master_key) as root:
        smtp = {"smtp": {"host": "127.0.0.1", "port": mail.port}}
        updated = root.post("/account/update", json={"account_id": a.account_id, "settings": smtp})
        assert updated.status_code == 200, updated.text
    with _client(proxy.base_url, a.admin_key) as admin_a, _client(proxy.base_url, b.admin_key) as admin_b:
        configured = admin_a.post(
            CONFIG, json={"webhook_url": receiver.url, "webhook_secret": SECRET, "emails": ["finance@alerta.example"]}
        )
        assert configured.status_code == 200, configured.text
        _fire(database_url, [a.account_id, b.account_id])

        alerts_a = _delivered(admin_a, expected=4)  # 2 thresholds x (webhook, email)
        alerts_b = admin_b.get(HISTORY).json()["alerts"]
    with _client(proxy.base_url, master_key, account=b.account_id) as acting_b:
        assert acting_b.get(HISTORY).json()["alerts"] == alerts_b

    assert sorted(x["threshold"] for x in alerts_a) == [50.0, 80.0]
    assert sorted(x["threshold"] for x in alerts_b) == [50.0, 80.0]
    assert not {x["alert_id"] for x in alerts_a} & {x["alert_id"] for x in alerts_b}
    assert all(x["deliveries"] == [] for x in alerts_b)  # B has no destinations
    assert a.account_id not in str(alerts_b) and b.account_id not in str(alerts_a)

    # Two workers poll the outbox: each delivery was sent exactly once, signed.
    assert len(receiver.received) == 2 and all(r.signature_ok for r in receiver.received)
    assert {r.json["alert_id"] for r in receiver.received} == {x["alert_id"] for x in alerts_a}
    assert len({r.headers["X-Atrium-Delivery"] for r in receiver.received}) == 2
    assert len(mail.messages) == 2
    assert all(d["attempts"] == 1 for x in alerts_a for d in x["deliveries"])
