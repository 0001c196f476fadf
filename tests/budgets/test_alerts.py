"""Budget threshold alerts: once per threshold, period and account across replicas; delivered by a
signed webhook (retried with backoff) and by email; destinations and history over the API.

Two ``BudgetAlerts`` on two asyncpg pools stand for two replicas. Deliveries are real: a local
webhook receiver that checks the signature, a local SMTP server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from extensions.budgets.alert_config import AlertConfigStore
from extensions.budgets.alerts import BudgetAlerts, RetryPolicy, alert_history
from extensions.egress import EgressRefused
from extensions.errors import RequestError
from extensions.testing.services import PostgresServer, create_migrated_database, drop_database
from extensions.testing.smtp import MailCatcher
from extensions.testing.webhook import WebhookReceiver

SECRET = "whsec-0123456789abcdef"
FAST = RetryPolicy(base_s=0.05, cap_s=0.2)
NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
DECEMBER = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def own_database(postgres: PostgresServer) -> Iterator[str]:
    """A database of this module's own: the proxies other modules started send alerts from the
    session database's outbox too, and one of them once took (and mailed elsewhere) rows these
    tests wrote."""
    dsn = asyncio.run(create_migrated_database(postgres.admin_dsn, "alerts"))
    yield dsn
    asyncio.run(drop_database(postgres.admin_dsn, dsn))


@pytest.fixture
async def replicas(own_database: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    one = await asyncpg.create_pool(own_database, min_size=1, max_size=4)
    two = await asyncpg.create_pool(own_database, min_size=1, max_size=4)
    yield one, two
    await one.close()
    await two.close()


@pytest.fixture
def mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


async def new_account(pool: asyncpg.Pool, settings: dict[str, Any] | None = None) -> str:
    account_id = str(uuid.uuid4())
    await pool.execute(
        'INSERT INTO "Atrium_Account" (account_id, name, slug, settings) VALUES ($1, $2, $3, $4::jsonb)',
        account_id,
        f"Alerts {account_id[:8]}",
        f"alerts-{account_id[:8]}",
        json.dumps(settings or {}),
    )
    return account_id


async def settle(alerts: BudgetAlerts, account_id: str, spend: float, period: tuple[datetime, datetime]) -> None:
    await alerts.settled(
        account_id=account_id,
        period_start=period[0],
        period_end=period[1],
        spend=spend,
        max_budget=100.0,
        thresholds=[50, 80, 100],
    )


async def finished(pool: asyncpg.Pool, account_id: str, expected: int, within: float = 60) -> list[asyncpg.Record]:
    """The account's deliveries once ``expected`` of them exist and none is pending (polls)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        rows = await pool.fetch(
            'SELECT * FROM "Atrium_AlertDelivery" WHERE account_id = $1 ORDER BY channel, created_at', account_id
        )
        if len(rows) >= expected and all(r["status"] != "pending" for r in rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"deliveries not finished: {[dict(r) for r in rows]}")
        await asyncio.sleep(0.05)


async def thresholds_fired(pool: asyncpg.Pool, account_id: str) -> list[tuple[datetime, float]]:
    rows = await pool.fetch(
        'SELECT period_start, threshold FROM "Atrium_BudgetAlert" WHERE account_id = $1 ORDER BY 1, 2', account_id
    )
    return [(r["period_start"], r["threshold"]) for r in rows]


async def test_two_replicas_fire_once_and_deliver_once_with_retries(
    replicas: tuple[asyncpg.Pool, asyncpg.Pool], mail: MailCatcher, caplog: pytest.LogCaptureFixture
) -> None:
    pool_a, pool_b = replicas
    receiver = WebhookReceiver(SECRET, fail_first=2).start()
    try:
        account = await new_account(pool_a, {"smtp": {"host": "127.0.0.1", "port": mail.port}})
        await AlertConfigStore(pool_a).put(
            account,
            webhook_url=receiver.url,
            webhook_secret=SECRET,
            emails=["Finance@alerts.example"],
            enabled=True,
            updated_by="test",
        )
        one = BudgetAlerts(pool_a, retry=FAST, poll_s=0.05)
        two = BudgetAlerts(pool_b, retry=FAST, poll_s=0.05)
        one.start()
        two.start()
        caplog.set_level(logging.WARNING, logger="atrium.budget_alerts")
        # Both replicas see the same crossing of 80 %, several times each, at once.
        await asyncio.gather(*(settle(r, account, 85.0, NOVEMBER) for r in (one, two) for _ in range(5)))
        rows = await finished(pool_a, account, expected=4)
        await one.stop()
        await two.stop()
    finally:
        receiver.stop()

    november = NOVEMBER[0].replace(tzinfo=None)
    assert await thresholds_fired(pool_a, account) == [(november, 50.0), (november, 80.0)]
    assert [(r["channel"], r["status"]) for r in rows] == [("email", "delivered")] * 2 + [("webhook", "delivered")] * 2
    assert not [r for r in caplog.records if "not claimed" in r.getMessage()], "a replica's claim failed"

    # Webhook: every request signed; the 500s were retried; each delivery delivered once.
    assert all(r.signature_ok for r in receiver.received)
    assert [r.answered for r in receiver.received].count(200) == 2
    assert [r.answered for r in receiver.received].count(500) == 2
    webhook_rows = {r["id"]: r for r in rows if r["channel"] == "webhook"}
    per_delivery: dict[str, list[int]] = {}
    for request in receiver.received:
        per_delivery.setdefault(request.headers["X-Atrium-Delivery"], []).append(request.answered)
    assert set(per_delivery) == set(webhook_rows)
    assert sum(webhook_rows[d]["attempts"] for d in per_delivery) == 4  # 2 deliveries + 2 retries
    for delivery_id, answers in per_delivery.items():
        assert answers[-1] == 200 and answers.count(200) == 1
        assert webhook_rows[delivery_id]["attempts"] == len(answers)
        assert webhook_rows[delivery_id]["last_status_code"] == 200
    body = receiver.received[-1].json
    assert body["type"] == "budget.threshold"
    assert body["account_id"] == account
    assert body["threshold"] in (50.0, 80.0)
    assert (body["spend"], body["max_budget"]) == (85.0, 100.0)
    assert (body["period_start"], body["period_end"]) == ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")
    assert body["alert_id"] and body["sent_at"]
    assert receiver.received[-1].headers["X-Atrium-Timestamp"].isdigit()

    # Email: one message per alert, over the account's own SMTP server.
    assert len(mail.messages) == 2
    subjects = sorted(str(m["Subject"]) for m in mail.messages)
    assert subjects[0].endswith("reached 50% of its budget") and subjects[1].endswith("reached 80% of its budget")
    assert all("finance@alerts.example" in str(m["To"]).lower() for m in mail.messages)
    text = mail.messages[0].get_body(preferencelist=("plain",))
    assert text is not None and "85.00" in text.get_content() and "100.00" in text.get_content()


async def test_a_delivery_failing_every_attempt_ends_failed(
    replicas: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    pool, _ = replicas
    receiver = WebhookReceiver(SECRET, fail_first=1000).start()
    try:
        account = await new_account(pool)
        await AlertConfigStore(pool).put(
            account, webhook_url=receiver.url, webhook_secret=SECRET, emails=[], enabled=True, updated_by=None
        )
        alerts = BudgetAlerts(pool, retry=RetryPolicy(base_s=0.01, cap_s=0.05, max_attempts=3), poll_s=0.05)
        alerts.start()
        await alerts.settled(
            account_id=account,
            period_start=NOVEMBER[0],
            period_end=NOVEMBER[1],
            spend=100.0,
            max_budget=100.0,
            thresholds=[100],
        )
        [row] = await finished(pool, account, expected=1)
        await alerts.stop()
    finally:
        receiver.stop()
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "failed",
        3,
        500,
        "HTTP 500",
    )
    assert len(receiver.received) == 3


async def test_a_new_period_fires_again_and_global_smtp_is_the_fallback(
    replicas: tuple[asyncpg.Pool, asyncpg.Pool], mail: MailCatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_a, pool_b = replicas
    monkeypatch.setenv("ATRIUM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ATRIUM_SMTP_PORT", str(mail.port))
    account = await new_account(pool_a)  # no SMTP of its own
    await AlertConfigStore(pool_a).put(
        account, webhook_url=None, webhook_secret=None, emails=["ops@alerts.example"], enabled=True, updated_by=None
    )
    one, two = BudgetAlerts(pool_a, retry=FAST, poll_s=0.05), BudgetAlerts(pool_b, retry=FAST, poll_s=0.05)
    await asyncio.gather(settle(one, account, 40.0, NOVEMBER), settle(two, account, 40.0, NOVEMBER))
    assert await thresholds_fired(pool_a, account) == []  # under every threshold
    await asyncio.gather(settle(one, account, 120.0, NOVEMBER), settle(two, account, 120.0, NOVEMBER))
    await asyncio.gather(settle(one, account, 60.0, DECEMBER), settle(two, account, 60.0, DECEMBER))
    await asyncio.gather(settle(two, account, 130.0, NOVEMBER), settle(one, account, 70.0, DECEMBER))
    november, december = NOVEMBER[0].replace(tzinfo=None), DECEMBER[0].replace(tzinfo=None)
    assert await thresholds_fired(pool_a, account) == [
        (november, 50.0),
        (november, 80.0),
        (november, 100.0),
        (december, 50.0),
    ]
    one.start()
    two.start()
    rows = await finished(pool_a, account, expected=4)
    await one.stop()
    await two.stop()
    assert [r["status"] for r in rows] == ["delivered"] * 4
    assert sorted(str(m["Subject"]).rsplit(" reached ", 1)[1] for m in mail.messages) == [
        "100% of its budget",
        "50% of its budget",
        "50% of its budget",
        "80% of its budget",
    ]
    history = await alert_history(pool_a, account)
    assert (history[0]["period_start"][:7], history[0]["threshold"]) == ("2026-12", 50.0)
    assert all(h["deliveries"][0]["status"] == "delivered" for h in history)


async def test_the_webhook_address_is_checked_when_written_and_when_sent(
    replicas: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    pool, _ = replicas
    account = await new_account(pool)
    store = AlertConfigStore(pool)
    for url in ("http://169.254.169.254/latest/meta-data", "http://10.1.2.3/hook", "http://[::1]:8080/hook"):
        with pytest.raises(EgressRefused):
            await store.put(account, webhook_url=url, webhook_secret=SECRET, emails=[], enabled=True, updated_by=None)
    with pytest.raises(RequestError, match="webhook_secret is required"):
        await store.put(
            account, webhook_url="http://127.0.0.1:9/h", webhook_secret=None, emails=[], enabled=True, updated_by=None
        )
    with pytest.raises(RequestError, match="at most 20"):
        await store.put(
            account,
            webhook_url=None,
            webhook_secret=None,
            emails=[f"a{i}@x.example" for i in range(21)],
            enabled=True,
            updated_by=None,
        )
    with pytest.raises(RequestError, match="not an email"):
        await store.put(
            account, webhook_url=None, webhook_secret=None, emails=["a@b.c, evil@d.e"], enabled=True, updated_by=None
        )
    # A row written around the API (or an address that moved) is still refused at send time.
    await store.put(
        account, webhook_url="http://127.0.0.1:9/h", webhook_secret=SECRET, emails=[], enabled=True, updated_by=None
    )
    # ... and refused before the secret is read: an unreadable secret (the salt changed) does not hide it.
    await pool.execute(
        'UPDATE "Atrium_BudgetAlertConfig" SET webhook_url = $2, webhook_secret_enc = $3 WHERE account_id = $1',
        account,
        "http://10.1.2.3/hook",
        "not-a-ciphertext",
    )
    alerts = BudgetAlerts(pool, retry=RetryPolicy(max_attempts=1), poll_s=0.05)
    await alerts.settled(
        account_id=account,
        period_start=NOVEMBER[0],
        period_end=NOVEMBER[1],
        spend=1.0,
        max_budget=1.0,
        thresholds=[100],
    )
    alerts.start()
    [row] = await finished(pool, account, expected=1)
    await alerts.stop()
    assert row["status"] == "failed" and row["last_error"].startswith("egress_refused")


async def test_turning_alerts_off_stops_pending_deliveries(replicas: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    pool, _ = replicas
    receiver = WebhookReceiver(SECRET).start()
    try:
        account = await new_account(pool)
        store = AlertConfigStore(pool)
        await store.put(
            account, webhook_url=receiver.url, webhook_secret=SECRET, emails=[], enabled=True, updated_by=None
        )
        alerts = BudgetAlerts(pool, retry=FAST, poll_s=0.05)
        await settle(alerts, account, 55.0, NOVEMBER)
        await store.put(
            account, webhook_url=receiver.url, webhook_secret=None, emails=[], enabled=False, updated_by=None
        )
        await settle(alerts, account, 90.0, NOVEMBER)  # 80 % fires (history) but has no deliveries
        alerts.start()
        [row] = await finished(pool, account, expected=1)
        await alerts.stop()
    finally:
        receiver.stop()
    assert (row["status"], row["last_error"]) == ("failed", "the account's budget alerts were turned off")
    assert receiver.received == []
    history = await alert_history(pool, account)
    assert [(h["threshold"], len(h["deliveries"])) for h in history] == [(80.0, 0), (50.0, 1)]
