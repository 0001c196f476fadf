"""A plan's monthly tokens (``tokens_monthly``) through the real proxy: counted from LiteLLM's
spend logs when the limit arrives mid-month, refused in LiteLLM's budget form once reached."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx
import openai
import pytest
from budget_support import fresh_account, run_sql

from extensions.budgets.tokens import month_of
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld

MESSAGES = [{"role": "user", "content": "ping"}]
TOKENS_PER_CALL = 12  # the fake upstream's usage.total_tokens


def _spend_log_tokens(dsn: str, account_id: str) -> tuple[int, int]:
    rows = run_sql(
        dsn,
        'SELECT count(*) AS n, coalesce(sum(total_tokens), 0) AS t FROM "LiteLLM_SpendLogs" WHERE account_id = $1',
        account_id,
    )
    return int(rows[0]["n"]), int(rows[0]["t"])


def _counted(dsn: str, account_id: str) -> int | None:
    rows = run_sql(dsn, 'SELECT tokens FROM "Atrium_TokenUsage" WHERE account_id = $1', account_id)
    return int(rows[0]["tokens"]) if rows else None


def _wait(predicate: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _assign(proxy: ProxyProcess, account_id: str, tokens_monthly: int) -> None:
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {proxy.master_key}"}, timeout=30)
    plan_id = f"tok-{uuid.uuid4().hex[:8]}"
    made = root.post(
        "/plan/new", json={"plan_id": plan_id, "name": plan_id, "limits": {"tokens_monthly": tokens_monthly}}
    )
    assert made.status_code == 200, made.text
    assigned = root.post("/account/plan/assign", json={"account_id": account_id, "plan_id": plan_id})
    assert assigned.status_code == 200, assigned.text


def test_monthly_tokens_start_from_the_spend_logs_and_refuse_once_reached(
    proxy: ProxyProcess, database_url: str
) -> None:
    world: AccountWorld = fresh_account(proxy)
    client = openai.OpenAI(api_key=world.member_key, base_url=f"{proxy.base_url}/v1", max_retries=0)
    client.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
    # Before any limit nothing is counted by Atrium; LiteLLM's spend logs hold the month's tokens.
    _wait(lambda: _spend_log_tokens(database_url, world.account_id)[0] >= 2, "the spend logs")
    _, logged = _spend_log_tokens(database_url, world.account_id)
    assert _counted(database_url, world.account_id) is None

    # The limit arrives mid-month, one call's worth above what was spent: one more call is admitted.
    _assign(proxy, world.account_id, logged + TOKENS_PER_CALL // 2)
    client.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
    _wait(lambda: _counted(database_url, world.account_id) == logged + TOKENS_PER_CALL, "the counted tokens")

    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
    body = refused.value.response.json()["error"]
    assert body["type"] == "budget_exceeded"
    assert "tokens_monthly" in body["message"] and world.account_id in body["message"]
    _, end = month_of(datetime.now(UTC))
    assert end.isoformat() in body["message"]
    time.sleep(1)
    assert _counted(database_url, world.account_id) == logged + TOKENS_PER_CALL  # the refusal cost nothing


def test_months_run_in_utc_calendar_months() -> None:
    assert month_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert month_of(datetime(2027, 1, 1, 0, 30, tzinfo=UTC))[0] == datetime(2027, 1, 1, tzinfo=UTC)
