"""Account budgets through the real proxy: set and read, refusal in LiteLLM's form, settlement.

Prices (tests_support_config): gpt-fake input $0.001/token, output $0.002/token; the fake
upstream answers 7 prompt + 5 completion tokens, so one answered request costs $0.017.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import openai
import pytest
from budget_support import fresh_account, run_sql, set_budget

from extensions.testing.proxy_process import ProxyProcess

ONE_REQUEST = 0.017


def _chat(proxy: ProxyProcess, key: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{proxy.base_url}/v1/chat/completions",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 5, **extra},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def _period(proxy: ProxyProcess, key: str) -> dict[str, Any]:
    response = httpx.get(f"{proxy.base_url}/account/budget", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, response.text
    period: dict[str, Any] = response.json()["period"]
    return period


def _settled(proxy: ProxyProcess, key: str, timeout: float = 30) -> dict[str, Any]:
    """The period once nothing is reserved any more (success callbacks run after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        period = _period(proxy, key)
        if period["reserved"] == 0 or time.monotonic() > deadline:
            return period
        time.sleep(0.2)


def test_budget_is_set_by_the_super_admin_and_read_by_the_accounts_admins(proxy: ProxyProcess) -> None:
    a, b = fresh_account(proxy), fresh_account(proxy)
    set_budget(proxy, a.account_id, max_budget=5, budget_duration="calendar_month", timezone="Europe/Paris")
    own = httpx.get(f"{proxy.base_url}/account/budget", headers={"Authorization": f"Bearer {a.admin_key}"})
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["account_id"] == a.account_id and body["max_budget"] == 5
    assert body["budget"]["thresholds"] == [50, 80, 95, 100]
    assert body["period"]["resets_at"] is not None
    # A's admin cannot set a budget, nor read B's.
    refused = httpx.post(
        f"{proxy.base_url}/account/budget",
        json={"account_id": a.account_id, "max_budget": 1000},
        headers={"Authorization": f"Bearer {a.admin_key}"},
    )
    assert refused.status_code == 403, refused.text
    other = httpx.get(
        f"{proxy.base_url}/account/budget",
        params={"account_id": b.account_id},
        headers={"Authorization": f"Bearer {a.admin_key}"},
    )
    assert other.status_code == 404, other.text
    # A member of the account is not an admin.
    member = httpx.get(f"{proxy.base_url}/account/budget", headers={"Authorization": f"Bearer {a.member_key}"})
    assert member.status_code == 403, member.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("budget_duration", "forever"), ("timezone", "Mars/Olympus"), ("max_budget", -1), ("mode", "x" * 5000)],
)
def test_bad_budget_input_is_a_clear_4xx(proxy: ProxyProcess, field: str, value: Any) -> None:
    a = fresh_account(proxy)
    response = httpx.post(
        f"{proxy.base_url}/account/budget",
        json={"account_id": a.account_id, "max_budget": 1, field: value},
        headers={"Authorization": f"Bearer {proxy.master_key}"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert len(response.text) < 3000


def test_refusal_is_litellms_budget_error_and_charges_nothing(proxy: ProxyProcess, database_url: str) -> None:
    a = fresh_account(proxy)
    # LiteLLM's own refusal of a key over its budget, for comparison.
    root = {"Authorization": f"Bearer {proxy.master_key}", "X-Atrium-Account": a.account_id}
    poor = httpx.post(f"{proxy.base_url}/key/generate", json={"user_id": a.member_user, "max_budget": 0}, headers=root)
    assert poor.status_code == 200, poor.text
    litellm_refusal = _chat(proxy, poor.json()["key"])
    assert litellm_refusal.status_code >= 400
    # A budget smaller than one request's worst case: LiteLLM would admit it, Atrium refuses.
    anchor = set_budget(proxy, a.account_id, max_budget=0.0000001)["budget"]["anchor"]
    since = datetime.fromisoformat(anchor).astimezone(UTC).replace(tzinfo=None)
    spent = 'SELECT coalesce(sum(spend), 0) AS s FROM "LiteLLM_SpendLogs" WHERE account_id = $1 AND "startTime" >= $2'
    ours = _chat(proxy, a.member_key)
    assert ours.status_code == litellm_refusal.status_code, ours.text
    error, reference = ours.json()["error"], litellm_refusal.json()["error"]
    assert error["type"] == reference["type"] == "budget_exceeded"
    assert set(error) == set(reference)
    assert f"Account={a.account_id}" in error["message"]
    assert "Max budget: 0.0000001" in error["message"] and "Resets" not in error["message"]
    with pytest.raises(openai.APIStatusError) as raised:
        openai.OpenAI(api_key=a.member_key, base_url=f"{proxy.base_url}/v1", max_retries=0).chat.completions.create(
            model="gpt-fake", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    assert raised.value.status_code == ours.status_code
    time.sleep(3)  # spend logs are written every second (proxy_batch_write_at)
    assert run_sql(database_url, spent, a.account_id, since)[0]["s"] == 0  # refusals are logged at $0
    assert _period(proxy, a.admin_key)["reserved"] == 0


def test_a_request_whose_worst_case_does_not_fit_is_refused(proxy: ProxyProcess) -> None:
    a = fresh_account(proxy)
    set_budget(proxy, a.account_id, max_budget=0.05)
    # Each worst case reserves about $0.02 (input tokens + 5 output tokens); each answer costs $0.017.
    assert _chat(proxy, a.member_key).status_code == 200
    assert _chat(proxy, a.member_key).status_code == 200
    spent = _settled(proxy, a.admin_key)
    assert spent["spend"] == pytest.approx(2 * ONE_REQUEST)
    # $0.016 is left: less than one worst case, although the budget is not spent.
    third = _chat(proxy, a.member_key)
    assert third.status_code == 422, third.text
    assert third.json()["error"]["type"] == "budget_exceeded"
    # A smaller worst case still fits.
    assert _chat(proxy, a.member_key, max_tokens=1).status_code == 200


def test_overage_and_alert_only(proxy: ProxyProcess) -> None:
    a = fresh_account(proxy)
    set_budget(proxy, a.account_id, max_budget=0.01, overage_amount=0.02)
    assert _chat(proxy, a.member_key).status_code == 200  # fits in budget + overage
    b = fresh_account(proxy)
    set_budget(proxy, b.account_id, max_budget=0.0000001, mode="alert_only")
    assert _chat(proxy, b.member_key).status_code == 200
    assert _settled(proxy, b.admin_key)["spend"] == pytest.approx(ONE_REQUEST)


def test_settled_spend_agrees_with_litellms_spend_logs(proxy: ProxyProcess, database_url: str) -> None:
    a = fresh_account(proxy)
    # Without max_tokens the worst case bounds output by the model's maximum (16384 tokens: $32.77).
    anchor = set_budget(proxy, a.account_id, max_budget=100)["budget"]["anchor"]
    start = _period(proxy, a.admin_key)
    client = openai.OpenAI(api_key=a.member_key, base_url=f"{proxy.base_url}/v1", max_retries=0)
    for i in range(3):
        client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": f"n{i}"}])
    stream = client.chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": "stream please"}], stream=True, max_tokens=50
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    period = _settled(proxy, a.admin_key)
    assert period["reserved"] == 0
    assert period["spend"] - start["spend"] == pytest.approx(4 * ONE_REQUEST)
    deadline = time.monotonic() + 30
    while True:  # LiteLLM writes its spend logs in batches
        logged = run_sql(
            database_url,
            'SELECT coalesce(sum(spend), 0) AS s FROM "LiteLLM_SpendLogs" WHERE account_id = $1 AND "startTime" >= $2',
            a.account_id,
            datetime.fromisoformat(anchor).astimezone(UTC).replace(tzinfo=None),
        )[0]["s"]
        if logged == pytest.approx(period["spend"], abs=0.005) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert round(logged, 2) == round(period["spend"], 2)


def test_a_period_reset_restores_admission(proxy: ProxyProcess) -> None:
    a = fresh_account(proxy)
    set_budget(proxy, a.account_id, max_budget=0.02, budget_duration="4s")
    assert _chat(proxy, a.member_key).status_code == 200
    _settled(proxy, a.admin_key)
    refused = _chat(proxy, a.member_key)
    assert refused.status_code == 422
    assert "Resets at" in refused.json()["error"]["message"]
    deadline = time.monotonic() + 20
    while _chat(proxy, a.member_key).status_code != 200:
        assert time.monotonic() < deadline, "the next period never admitted a request"
        time.sleep(0.5)


def test_a_client_leaving_mid_stream_is_charged_what_the_provider_produced(
    proxy: ProxyProcess, database_url: str
) -> None:
    a = fresh_account(proxy)
    set_budget(proxy, a.account_id, max_budget=100)
    words = " ".join(f"w{i}" for i in range(40))
    body = {
        "model": "gpt-fake",
        "messages": [{"role": "user", "content": f"DRIP 0.2 {words}"}],
        "max_tokens": 500,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {a.member_key}"}
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", f"{proxy.base_url}/v1/chat/completions", json=body, headers=headers) as response,
    ):
        seen = 0
        for line in response.iter_lines():
            seen += line.startswith("data:")
            if seen >= 5:
                break  # the client leaves; the upstream had 40 more words to send
    period = _settled(proxy, a.admin_key)
    assert period["reserved"] == 0
    worst_case = 500 * 0.002
    assert 0 < period["spend"] < worst_case
    deadline = time.monotonic() + 30
    while True:
        rows = run_sql(
            database_url,
            'SELECT spend, completion_tokens FROM "LiteLLM_SpendLogs" WHERE account_id = $1 AND spend > $2',
            a.account_id,
            ONE_REQUEST,
        )
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(rows) == 1 and rows[0]["completion_tokens"] < 40
    assert rows[0]["spend"] == pytest.approx(period["spend"])


def test_a_plans_monthly_cost_is_a_calendar_month_budget_the_accounts_own_budget_overrides(
    proxy: ProxyProcess,
) -> None:
    a = fresh_account(proxy)
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {proxy.master_key}"}, timeout=30)
    plan_id = f"tiny-{a.slug}"
    created = root.post("/plan/new", json={"plan_id": plan_id, "name": plan_id, "limits": {"max_budget_monthly": 0.01}})
    assert created.status_code == 200, created.text
    assigned = root.post("/account/plan/assign", json={"account_id": a.account_id, "plan_id": plan_id})
    assert assigned.status_code == 200, assigned.text
    deadline = time.monotonic() + 10
    while (refused := _chat(proxy, a.member_key)).status_code == 200:  # the plan reaches every worker
        assert time.monotonic() < deadline, "the plan's monthly cost was never enforced"
        time.sleep(0.3)
    assert refused.status_code == 422 and "Max budget: 0.01" in refused.json()["error"]["message"]
    view = httpx.get(f"{proxy.base_url}/account/budget", headers={"Authorization": f"Bearer {a.admin_key}"}).json()
    assert view["budget"]["budget_duration"] == "calendar_month" and view["budget"]["updated_by"] == "plan"
    set_budget(proxy, a.account_id, max_budget=100)  # the account's own budget wins over the plan's
    assert _chat(proxy, a.member_key).status_code == 200
