"""The PostgreSQL ledger and workers' slices of it: periods, atomic leases across pools, flushes,
give-backs, expired leases."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from extensions.budgets.admission import BudgetAdmission
from extensions.budgets.ledger import Ledger, PeriodState
from extensions.budgets.periods import CALENDAR_MONTH, Period, check_duration, period_at
from extensions.budgets.settings import BudgetSettings, BudgetSettingsStore
from extensions.budgets.slices import IDLE_S, Slice, Slices
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


def _period() -> Period:
    return period_at(datetime.now(UTC), duration="30d", anchor=datetime.now(UTC))


async def test_concurrent_workers_never_hold_past_the_limit(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    """Four workers on two "replicas" admit 100 calls of 0.03 against 1.00 at once: what they admit
    never passes the limit, slices shrink so that nearly all of it is used, and once every call is
    settled and the slices are given back the ledger holds nothing and counts every call once."""
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    period = _period()
    workers = [Slices(Ledger(pools[n % 2])) for n in range(4)]
    taken = await asyncio.gather(*(workers[n % 4].take(account, period, 1.0, 0.03) for n in range(100)))
    admitted = [(n, s) for n, s in enumerate(taken) if isinstance(s, Slice)]
    assert 30 <= len(admitted) <= 33, len(admitted)  # 33 fit; a worker's unused remainder may be stranded
    assert all(
        isinstance(s, PeriodState) and s.spend + s.reserved + 0.03 > 1.0
        for s in taken
        if s not in dict(admitted).values()
    )
    state = await Ledger(pools[0]).state(account, period)
    assert state.spend == 0 and 0.03 * len(admitted) <= state.reserved + 1e-9 <= 1.0 + 1e-9
    for _, held in admitted:
        held.settle(0.03, 0.02)
    for worker in workers:
        await worker.tend(now=time.monotonic() + IDLE_S)
    state = await Ledger(pools[1]).state(account, period)
    assert state.reserved == 0 and state.spend == pytest.approx(0.02 * len(admitted))
    assert state.requests == len(admitted)
    count = 'SELECT count(*) FROM "Atrium_BudgetReservation" WHERE account_id = $1'
    assert await pools[1].fetchval(count, account) == 0


async def test_a_slice_is_a_share_of_what_is_left_and_never_less_than_the_call(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    period = _period()
    ledger = Ledger(pools[0])
    first = await ledger.lease("a", account, period, need=0.01, want=10.0, limit=1.0, share=0.125)
    assert first.granted == pytest.approx(0.125)  # an eighth of 1.00
    second = await ledger.lease("b", account, period, need=0.5, want=10.0, limit=1.0, share=0.125)
    assert second.granted == pytest.approx(0.5)  # the need, though more than an eighth of 0.875
    refused = await ledger.lease("c", account, period, need=0.4, want=10.0, limit=1.0, share=0.125)
    assert refused.granted is None and refused.state.reserved == pytest.approx(0.625)
    unlimited = await ledger.lease("d", account, period, need=0.4, want=10.0, limit=None)
    assert unlimited.granted == 10.0  # alert_only: recorded, not limited
    rows = await pools[1].fetch(
        'SELECT id, amount FROM "Atrium_BudgetReservation" WHERE account_id = $1 ORDER BY id', account
    )
    assert [(r["id"], r["amount"]) for r in rows] == [("a", 0.125), ("b", 0.5), ("d", 10.0)]


async def test_a_call_that_does_not_fit_is_refused_and_a_changed_limit_drains_the_old_slice(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    period = _period()
    worker = Slices(Ledger(pools[0]))
    assert isinstance(await worker.take(account, period, 0.1, 0.2), PeriodState)  # worst case above the budget
    old = await worker.take(account, period, 1.0, 0.2)
    assert isinstance(old, Slice)
    new = await worker.take(account, period, 0.5, 0.2)  # the limit was lowered
    assert isinstance(new, Slice) and new is not old and not old.open
    old.settle(0.2, 0.1)
    await worker.tend()  # the old slice's only call settled: it is given back at once, with its cost
    state = await Ledger(pools[1]).state(account, period)
    assert state.spend == pytest.approx(0.1) and state.reserved == pytest.approx(new.amount)
    assert old.closed and new.amount <= 0.5 - 0.1 + 1e-9


async def test_expired_leases_are_released_once_and_the_spend_logs_fill_in(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    """A worker that dies holding a slice with settled costs it never flushed: any worker's sweep gives
    the slice back once and raises the period's spend to what LiteLLM logged (not twice)."""
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    period = _period()
    ledger = Ledger(pools[0])
    dead = await ledger.lease("dead", account, period, need=0.5, want=0.5, limit=1.0, lease=0.0)
    assert dead.granted == 0.5
    assert (await ledger.lease("other", account, period, need=0.6, want=0.6, limit=1.0)).granted is None
    now = datetime.now(UTC).replace(tzinfo=None)
    await pools[0].execute(
        'INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, "startTime", "endTime", account_id) '
        "VALUES ($1, 'acompletion', 'k', 0.1, $2, $2, $3)",
        uuid.uuid4().hex,
        now,
        account,
    )
    await asyncio.sleep(0.05)
    swept = await asyncio.gather(Ledger(pools[0]).sweep(), Ledger(pools[1]).sweep(), Ledger(pools[1]).sweep())
    assert sorted(swept)[-1] >= 1
    state = await ledger.state(account, period)
    assert state.reserved == 0 and state.spend == pytest.approx(0.1)
    assert (await ledger.lease("other", account, period, need=0.6, want=0.6, limit=1.0)).granted == 0.6
    # The dead worker's flush arrives after all: the cost is charged, nothing is given back twice.
    spend, held = await ledger.flush("dead", account, period, give_back=0.05, cost=0.05, requests=1)
    assert not held and spend == pytest.approx(0.15)
    assert (await ledger.state(account, period)).reserved == pytest.approx(0.6)


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
    settings = await store.put(BudgetSettings(account_id=account, max_budget=1.0), by="test")
    admission = BudgetAdmission(store, Ledger(pools[0]))
    call_id = uuid.uuid4().hex
    await admission.admit(account, {"litellm_call_id": call_id, "model": "unpriced", "messages": []})
    count = 'SELECT count(*) FROM "Atrium_BudgetReservation" WHERE account_id = $1'
    assert await pools[1].fetchval(count, account) == 1
    admission.exchange_ended([call_id])
    await admission.tend()  # within the grace time: still held
    assert await pools[1].fetchval(count, account) == 1
    assert len(admission.slices.held()) == 1
    await admission.tend(now=time.monotonic() + 3600)  # released; the slice, idle, goes back
    assert await pools[1].fetchval(count, account) == 0 and not admission.slices.held()
    assert (await Ledger(pools[1]).state(account, settings.period())).reserved == 0
    await admission.succeeded({"litellm_call_id": call_id, "response_cost": 0.0})  # a late callback: nothing


async def test_a_stopping_worker_gives_its_slices_back_and_a_late_call_is_still_charged(
    pools: tuple[asyncpg.Pool, asyncpg.Pool],
) -> None:
    """The worker stops with a call in flight and a settled cost not yet flushed: its slice goes back
    (nothing stays reserved), the settled cost is flushed, and the call that ends afterwards is
    charged on its own."""
    account = f"ledger-{uuid.uuid4().hex[:8]}"
    store = BudgetSettingsStore(pools[0])
    settings = await store.put(BudgetSettings(account_id=account, max_budget=1.0, budget_duration="30d"), by="test")
    admission = BudgetAdmission(store, Ledger(pools[0]))
    admission.start()
    calls = [uuid.uuid4().hex for _ in range(2)]
    for call_id in calls:
        await admission.admit(account, {"litellm_call_id": call_id, "model": "unpriced", "messages": []})
    await admission.succeeded({"litellm_call_id": calls[0], "standard_logging_object": {"response_cost": 0.25}})
    await admission.stop()
    state = await Ledger(pools[1]).state(account, settings.period())
    assert state.reserved == 0 and state.spend == pytest.approx(0.25) and state.requests == 1
    await admission.succeeded({"litellm_call_id": calls[1], "standard_logging_object": {"response_cost": 0.5}})
    state = await Ledger(pools[1]).state(account, settings.period())
    assert state.reserved == 0 and state.spend == pytest.approx(0.75) and state.requests == 2
