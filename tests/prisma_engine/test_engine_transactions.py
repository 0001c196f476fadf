"""Interactive transactions, batch_() and the error classes prisma-client-py maps.

LiteLLM uses ``async with prisma_client.db.tx(timeout=...) as tx`` (37 sites), often with
``async with tx.batch_() as batcher`` inside (spend writers), and relies on
UniqueViolationError, RecordNotFoundError (``*_or_raise``, update of a missing row) and
ForeignKeyViolationError.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest

from prisma import errors


async def test_tx_commit_and_rollback(db: Any, uid: str) -> None:
    async with db.tx() as tx:
        await tx.litellm_teamtable.create(data={"team_id": f"{uid}-c"})
        await tx.litellm_teamtable.update(where={"team_id": f"{uid}-c"}, data={"spend": {"increment": 1.5}})
        inside = await tx.litellm_teamtable.find_unique(where={"team_id": f"{uid}-c"})
        assert inside is not None and inside.spend == 1.5
    assert await db.litellm_teamtable.count(where={"team_id": f"{uid}-c"}) == 1

    with pytest.raises(RuntimeError, match="boom"):
        async with db.tx() as tx:
            await tx.litellm_teamtable.create(data={"team_id": f"{uid}-r"})
            assert await tx.litellm_teamtable.count(where={"team_id": f"{uid}-r"}) == 1
            raise RuntimeError("boom")
    assert await db.litellm_teamtable.count(where={"team_id": f"{uid}-r"}) == 0


async def test_tx_isolation_from_other_connections(db: Any, uid: str) -> None:
    tx_manager = db.tx()
    tx = await tx_manager.start()
    await tx.litellm_teamtable.create(data={"team_id": uid})
    assert await db.litellm_teamtable.count(where={"team_id": uid}) == 0  # not yet committed
    await tx_manager.commit()
    assert await db.litellm_teamtable.count(where={"team_id": uid}) == 1


async def test_expired_transaction_raises(db: Any, uid: str) -> None:
    tx_manager = db.tx(timeout=dt.timedelta(milliseconds=200))
    tx = await tx_manager.start()
    await asyncio.sleep(0.6)
    with pytest.raises(errors.TransactionExpiredError):
        await tx.litellm_teamtable.create(data={"team_id": uid})
    assert await db.litellm_teamtable.count(where={"team_id": uid}) == 0


async def test_batch_commits_all_or_nothing(db: Any, uid: str) -> None:
    async with db.batch_() as batcher:
        batcher.litellm_teamtable.create(data={"team_id": f"{uid}-1"})
        batcher.litellm_teamtable.create(data={"team_id": f"{uid}-2"})
        batcher.litellm_teamtable.update_many(where={"team_id": {"startswith": uid}}, data={"spend": 2.0})
        batcher.execute_raw('UPDATE "LiteLLM_TeamTable" SET max_budget = 5 WHERE team_id = $1', f"{uid}-1")
    rows = await db.litellm_teamtable.find_many(where={"team_id": {"startswith": uid}}, order={"team_id": "asc"})
    assert [(r.team_id, r.spend, r.max_budget) for r in rows] == [
        (f"{uid}-1", 2.0, 5.0),
        (f"{uid}-2", 2.0, None),
    ]

    batcher = db.batch_()
    batcher.litellm_teamtable.create(data={"team_id": f"{uid}-3"})
    batcher.litellm_teamtable.create(data={"team_id": f"{uid}-1"})  # duplicate: whole batch fails
    with pytest.raises(errors.UniqueViolationError):
        await batcher.commit()
    assert await db.litellm_teamtable.count(where={"team_id": f"{uid}-3"}) == 0


async def test_batch_inside_tx_like_spend_writer(db: Any, uid: str) -> None:
    # ProxyUpdateSpend.update_end_user_spend: tx(timeout=60s) + batch_() of upserts with increment
    for _ in range(2):
        async with db.tx(timeout=dt.timedelta(seconds=60)) as tx, tx.batch_() as batcher:
            for i in range(3):
                batcher.litellm_endusertable.upsert(
                    where={"user_id": f"{uid}-{i}"},
                    data={
                        "create": {"user_id": f"{uid}-{i}", "spend": 1.0, "blocked": False},
                        "update": {"spend": {"increment": 1.0}},
                    },
                )
    rows = await db.litellm_endusertable.find_many(where={"user_id": {"startswith": uid}})
    assert sorted(r.spend for r in rows) == [2.0, 2.0, 2.0]


async def test_unique_violation(db: Any, uid: str) -> None:
    await db.litellm_teamtable.create(data={"team_id": uid})
    with pytest.raises(errors.UniqueViolationError) as info:
        await db.litellm_teamtable.create(data={"team_id": uid})
    assert info.value.data["user_facing_error"]["meta"]["target"] == ["team_id"]


async def test_record_not_found(db: Any, uid: str) -> None:
    with pytest.raises(errors.RecordNotFoundError):
        await db.litellm_teamtable.find_unique_or_raise(where={"team_id": uid})
    with pytest.raises(errors.RecordNotFoundError):
        await db.litellm_teamtable.find_first_or_raise(where={"team_id": uid})
    # update of a missing row: prisma-client-py turns P2025 into None
    assert await db.litellm_teamtable.update(where={"team_id": uid}, data={"spend": 1.0}) is None
    assert await db.litellm_teamtable.update_many(where={"team_id": uid}, data={"spend": 1.0}) == 0


async def test_foreign_key_violation(db: Any, uid: str) -> None:
    with pytest.raises(errors.ForeignKeyViolationError):
        await db.litellm_teammembership.create(data={"user_id": uid, "team_id": uid, "budget_id": f"{uid}-none"})


async def test_missing_required_and_unknown_fields(db: Any, uid: str) -> None:
    with pytest.raises(errors.MissingRequiredValueError):
        await db.litellm_spendlogs.create(
            data={"request_id": uid, "startTime": dt.datetime.now(dt.UTC)}  # type: ignore[typeddict-item]
        )
    with pytest.raises(errors.FieldNotFoundError):
        await db.litellm_teamtable.find_many(where={"no_such_field": 1})  # type: ignore[typeddict-unknown-key]


async def test_raw_query_error(db: Any) -> None:
    with pytest.raises(errors.RawQueryError):
        await db.query_raw('SELECT * FROM "NoSuchTable"')
    with pytest.raises(errors.RawQueryError):
        await db.execute_raw("SELECT 1/0")


async def test_unreachable_database_reads_like_native_p1001(wasm_engine_env: None) -> None:
    # LiteLLM's PrismaDBExceptionHandler spots outages by the native engine's P1001 text.
    import socket

    from prisma import Prisma

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Prisma(datasource={"url": f"postgresql://postgres@127.0.0.1:{port}/nowhere"})
    await client.connect()
    try:
        with pytest.raises(errors.DataError, match=re.escape("Can't reach database server at `127.0.0.1`")):
            await client.litellm_teamtable.count()
    finally:
        await client.disconnect()
