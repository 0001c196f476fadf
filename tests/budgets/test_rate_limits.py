"""Per-account RPM/TPM: LiteLLM's 429 through the real proxy, and the Redis fallback and recovery."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest
import redis
from budget_support import run_sql, set_budget

from extensions.budgets import rate_limits
from extensions.budgets.plans import Entitlements
from extensions.budgets.rate_limits import WINDOW_SECONDS, AccountRateLimits
from extensions.testing.fake_upstream import FakeUpstream, free_port
from extensions.testing.processes import stop_process
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

MESSAGES = [{"role": "user", "content": "ping"}]


def fresh_window(seconds_needed: float = 15) -> None:
    """Start the test's requests early in a 60-second window, so they all land in one."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < seconds_needed:
        time.sleep(left + 0.2)


def put_on_plan(proxy: ProxyProcess, master_key: str, world: AccountWorld, limits: dict[str, int]) -> None:
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    plan_id = f"rl-{uuid.uuid4().hex[:8]}"
    assert root.post("/plan/new", json={"plan_id": plan_id, "name": plan_id, "limits": limits}).status_code == 200
    assigned = root.post("/account/plan/assign", json={"account_id": world.account_id, "plan_id": plan_id})
    assert assigned.status_code == 200, assigned.text


@pytest.fixture(scope="module")
def world(proxy: ProxyProcess, master_key: str) -> AccountWorld:
    return build_account(proxy.base_url, master_key, f"rl{uuid.uuid4().hex[:6]}")


def test_the_fourth_request_in_a_minute_gets_litellms_429(
    proxy: ProxyProcess, master_key: str, world: AccountWorld
) -> None:
    put_on_plan(proxy, master_key, world, {"rpm": 3})
    fresh_window()
    # Two keys of the account (admin and member) share the account's limit.
    member = openai.OpenAI(api_key=world.member_key, base_url=f"{proxy.base_url}/v1", max_retries=0)
    admin = openai.OpenAI(api_key=world.admin_key, base_url=f"{proxy.base_url}/v1", max_retries=0)
    for caller in (member, admin, member):
        caller.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as refused:
        admin.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
    retry_after = int(refused.value.response.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW_SECONDS
    assert "Rate limit exceeded for account" in refused.value.message
    assert refused.value.response.headers.get("rate_limit_type") == "requests"


def test_tokens_are_counted_after_success_and_tpm_refuses(
    proxy: ProxyProcess, master_key: str, world: AccountWorld, redis_url: str
) -> None:
    put_on_plan(proxy, master_key, world, {"tpm": 1})
    fresh_window()
    member = openai.OpenAI(api_key=world.member_key, base_url=f"{proxy.base_url}/v1", max_retries=0)
    member.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
    # The tokens land in Redis after the answer (LiteLLM's success logging): poll for them.
    window = int(time.time() // WINDOW_SECONDS)
    key = f"atrium:rl:{{{world.account_id}}}:{window}:tpm"
    shared = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 20
    while not shared.get(key) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert int(shared.get(key) or 0) > 0, "the request's tokens were never recorded"
    with pytest.raises(openai.RateLimitError) as refused:
        member.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
    assert refused.value.response.headers.get("rate_limit_type") == "tokens"


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        pytest.skip("redis-server is not installed")
    return found


@pytest.fixture
def late_redis(redis_binary: str, closed_port: int, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        stop_process(proc)


def start_redis(binary: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if client.ping():
                return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("redis-server did not start")


async def test_without_redis_each_worker_limits_alone_then_redis_takes_over(
    closed_port: int,
    redis_binary: str,
    late_redis: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = Entitlements(plan_id="p", limits={"rpm": 2})
    limiter = AccountRateLimits(f"redis://127.0.0.1:{closed_port}/0", retry_seconds=0.2, clock=lambda: 120.0)
    caplog.set_level(logging.WARNING, logger="atrium.budgets.rate_limits")

    async def admit_three() -> list[bool]:
        admitted = []
        for _ in range(3):
            try:
                await limiter.admit("acct", limits)
                admitted.append(True)
            except Exception as exc:  # LiteLLM's ProxyRateLimitError
                assert getattr(exc, "status_code", None) == 429 and getattr(exc, "headers", {})["retry-after"]
                admitted.append(False)
        return admitted

    assert await admit_three() == [True, True, False]  # served, and limited by this worker
    assert limiter.outage
    assert await admit_three() == [False, False, False]  # the same window, still counted here
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1, "one warning per outage, not one per request"

    late_redis.append(start_redis(redis_binary, closed_port, tmp_path))
    await asyncio.sleep(0.3)  # past retry_seconds: the limiter asks Redis again
    assert await admit_three() == [True, True, False]  # Redis's own (fresh) count
    assert not limiter.outage
    assert any("answers again" in r.getMessage() for r in caplog.records)
    rpm_key, _ = AccountRateLimits.keys("acct", 2)
    assert redis.Redis(port=closed_port).get(rpm_key) == b"2"


def test_redis_stopped_mid_load_requests_are_served_and_limits_fall_back(
    workdir: Path, database_url: str, upstream: FakeUpstream, master_key: str, redis_binary: str, tmp_path: Path
) -> None:
    """A replica on a Redis of its own (one worker, so per worker is per replica), stopped and restarted."""
    from tests_support_config import gateway_config

    port = free_port()
    server = start_redis(redis_binary, port, tmp_path)
    replica = ProxyProcess(
        workdir,
        database_url=database_url,
        redis_url=f"redis://127.0.0.1:{port}/0",
        master_key=master_key,
        config=gateway_config(upstream),
        workers=1,
    )
    try:
        replica.start()
        world = build_account(replica.base_url, master_key, f"rd{uuid.uuid4().hex[:6]}")
        put_on_plan(replica, master_key, world, {"rpm": 4})
        # The account budget's ledger is PostgreSQL: the outage must neither lose nor double a charge.
        anchor = set_budget(replica, world.account_id, max_budget=100)["budget"]["anchor"]
        fresh_window(45)
        chat = openai.OpenAI(api_key=world.member_key, base_url=f"{replica.base_url}/v1", max_retries=0)
        for _ in range(2):
            chat.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]

        stop_process(server)  # mid-load: two of the four already counted in Redis
        for _ in range(4):  # served: the replica's own window starts from zero with the same limit
            chat.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError) as refused:
            chat.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
        assert int(refused.value.response.headers["retry-after"]) >= 1
        assert replica.log_path.read_text().count("redis unreachable") == 1  # one warning per outage

        server = start_redis(redis_binary, port, tmp_path)  # back (empty): shared counting resumes
        time.sleep(3.5)  # past the limiter's retry interval
        chat.chat.completions.create(model="gpt-fake", messages=MESSAGES)  # type: ignore[arg-type]
        assert "redis answers again" in replica.log_path.read_text()
        window = int(time.time() // WINDOW_SECONDS)
        assert redis.Redis(port=port).get(f"atrium:rl:{{{world.account_id}}}:{window}:rpm") == b"1"

        served = 2 + 4 + 1  # the 429 was charged nothing
        since = datetime.fromisoformat(anchor).astimezone(UTC).replace(tzinfo=None)
        admin = {"Authorization": f"Bearer {world.admin_key}"}
        deadline = time.monotonic() + 60
        while True:
            period = httpx.get(f"{replica.base_url}/account/budget", headers=admin).json()["period"]
            logged = run_sql(
                database_url,
                'SELECT coalesce(sum(spend), 0) AS s FROM "LiteLLM_SpendLogs" '
                'WHERE account_id = $1 AND "startTime" >= $2',
                world.account_id,
                since,
            )[0]["s"]
            if period["reserved"] == 0 and round(logged, 6) == round(served * 0.017, 6):
                break
            assert time.monotonic() < deadline, (period, logged)
            time.sleep(0.5)
        assert period["requests"] == served and round(period["spend"], 6) == round(served * 0.017, 6)
    finally:
        replica.stop()
        stop_process(server)


async def test_a_successs_tokens_ride_on_the_next_admission_or_the_flush(redis_url: str) -> None:
    """One Redis round trip per request: recorded tokens wait in the worker until the account's next
    admission carries them (in the same script), or the flush sends them, whichever comes first."""
    limits = Entitlements(plan_id="p", limits={"tpm": 100})
    account = f"acct-{uuid.uuid4().hex[:8]}"
    limiter = AccountRateLimits(redis_url, clock=lambda: 600.0)  # window 10
    _, tpm_key = AccountRateLimits.keys(account, 10)
    shared = redis.Redis.from_url(redis_url)

    await limiter.record_tokens(account, 60)
    assert shared.get(tpm_key) is None  # not sent on its own
    await limiter.admit(account, limits)  # carries the 60, then checks: 60 < 100, admitted
    assert shared.get(tpm_key) == b"60"

    await limiter.record_tokens(account, 50)
    await asyncio.sleep(rate_limits.FLUSH_SECONDS + 0.5)  # no admission meanwhile: the flush sends them
    assert shared.get(tpm_key) == b"110"
    with pytest.raises(Exception) as refused:
        await limiter.admit(account, limits)
    assert getattr(refused.value, "status_code", None) == 429
