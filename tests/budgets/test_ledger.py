"""The PostgreSQL ledger on its own: periods, atomic reservations across pools, settle once, leases."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from extensions.budgets.admission import BudgetAdmission
from extensions.budgets.ledger import Ledger
from extensions.budgets.periods import CALENDAR_MONTH, check_duration, period_at
from extensions.budgets.settings import BudgetSettings, BudgetSettingsStore
from extensions.errors import RequestError


def test_fixed_periods_follow_the_anchor() -> None:
    anchor = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    period = period_at(anchor + timedelta(days=45), duration="30d", anchor=anchor)
    assert period.start == anchor + timedelta(days=30) and period.end == anchor + timedelta(days=60)
    assert period_at(anchor, duration="4s", anchor=anchor).end == anchor + timedelta(seconds=4)
    never = period_at(anchor + timedelta(days=900), duration=None, anchor=anchor)
    assert never.start == anchor and not never.resets


def test_calendar_months_are_in_the_accounts_time_zone() -> None:
    # 23:30 UTC on 31 January is already 1 February in Paris.
    moment = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    paris = period_at(moment, duration=CALENDAR_MONTH, anchor=moment, timezone="Europe/Paris")
    assert paris.start == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)  # 1 Feb 00:00 CET
    assert paris.end == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    utc = period_at(moment, duration=CALENDAR_MONTH, anchor=moment, timezone="UTC")
    assert utc.start == datetime(2026, 1, 1, tzinfo=UTC) and utc.end == datetime(2026, 2, 1, tzinfo=UTC)
    december = period_at(datetime(2026, 12, 15, tzinfo=UTC), duration=CALENDAR_MONTH, anchor=moment)
    assert december.end == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["30", "d", "0d", "1y", "30 d", "x" * 300])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(RequestError):
        check_duration(bad)


@pytest.fixture
async def pools(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two pools: two replicas' view of the same database."""
    first = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
    second = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_concurrent_reservations_never_pass_the_limit(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    period = period_at(datetime.now(UTC), duration="30d", anchor=datetime.now(UTC))
    ledgers = [Ledger(pools[0]), Ledger(pools[1])]
    # 100 reservations of 0.03 against 1.00 from two "replicas" at once: exactly 33 fit.
    held = await asyncio.gather(*(ledgers[n % 2].reserve(account, period, 0.03, 1.0) for n in range(100)))
    admitted = [r for r in held if r is not None]
    assert len(admitted) == 33
    state = await ledgers[0].state(account, period)
    assert state.reserved == pytest.approx(0.99) and state.spend == 0
    # Settled twice (success on one worker, a late release on the other): counted once.
    await asyncio.gather(*(ledgers[n % 2].settle(r, 0.02) for n, r in enumerate(admitted)))
    await asyncio.gather(*(ledgers[(n + 1) % 2].release(r) for n, r in enumerate(admitted)))
    state = await ledgers[1].state(account, period)
    assert state.reserved == 0 and state.spend == pytest.approx(0.66) and state.requests == 33


async def test_expired_leases_are_released_once(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    period = period_at(datetime.now(UTC), duration="30d", anchor=datetime.now(UTC))
    ledger = Ledger(pools[0])
    dead = await ledger.reserve(account, period, 0.5, 1.0, lease=0.0)  # its worker "died"
    assert dead is not None
    assert await ledger.reserve(account, period, 0.6, 1.0) is None  # still held
    await asyncio.sleep(0.05)
    await asyncio.gather(Ledger(pools[0]).sweep(), Ledger(pools[1]).sweep())
    state = await ledger.state(account, period)
    assert state.reserved == 0
    assert await ledger.reserve(account, period, 0.6, 1.0) is not None
    # The dead worker's call did finish after all: its cost is still charged.
    assert await ledger.settle(dead, 0.1) == pytest.approx(0.1)


async def test_a_call_that_reserved_nothing_is_still_charged_once(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    """A success with no reservation (a route without LiteLLM's pre-call hook, a budget set meanwhile)
    is charged to the account, so the ledger agrees with the spend logs; an unknown account is not."""
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    store = BudgetSettingsStore(pools[0])
    settings = await store.put(BudgetSettings(account_id=account, max_budget=1.0, budget_duration="30d"), by="test")
    admission = BudgetAdmission(store, Ledger(pools[0]))
    logged = {"litellm_call_id": uuid.uuid4().hex, "standard_logging_object": {"response_cost": 0.25}}
    await admission.succeeded(logged, account)
    await admission.succeeded({**logged, "litellm_call_id": uuid.uuid4().hex}, None)  # no account: nothing
    state = await Ledger(pools[1]).state(account, settings.period())
    assert state.spend == pytest.approx(0.25) and state.requests == 1 and state.reserved == 0


async def test_an_exchange_that_ended_unclaimed_is_released(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    """No success or failure callback claimed the call (a handler without LiteLLM's logging): once the
    grace time after the exchange has passed, the reservation is released, and only then."""
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    store = BudgetSettingsStore(pools[0])
    await store.put(BudgetSettings(account_id=account, max_budget=1.0), by="test")
    admission = BudgetAdmission(store, Ledger(pools[0]))
    call_id = uuid.uuid4().hex
    await admission.admit(account, {"litellm_call_id": call_id, "model": "unpriced", "messages": []})
    count = 'SELECT count(*) FROM "Atrium_BudgetReservation" WHERE account_id = $1'
    assert await pools[1].fetchval(count, account) == 1
    admission.exchange_ended([call_id])
    await admission.release_unclaimed()  # within the grace time: still held
    assert await pools[1].fetchval(count, account) == 1
    await admission.release_unclaimed(now=time.monotonic() + 3600)
    assert await pools[1].fetchval(count, account) == 0
    await admission.succeeded({"litellm_call_id": call_id, "response_cost": 0.0})  # a late callback: nothing
