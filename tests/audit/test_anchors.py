"""Anchoring on real PostgreSQL: heads go to an append-only file once per interval, and
``atrium audit verify --anchors`` names a full rewrite of history (entry, every later hash and the
head) that the plain verify cannot see."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from extensions.audit.anchors import anchor_once
from extensions.audit.chain import append, entry_hash, hashed_fields
from extensions.audit.entries import Actor, AuditEntry
from extensions.audit.verify import verify_account
from extensions.cli import main


def entry(account: str, n: int) -> AuditEntry:
    return AuditEntry(
        account_id=account,
        actor=Actor("account_admin", user_id="u1"),
        method="POST",
        route="/team/update",
        action="team.update",
        object_type="team",
        object_ids=(f"team-{n}",),
        changes={"team_alias": [f"a{n}", f"b{n}"]},
        status_code=200,
        outcome="success",
        request_id=f"req-{n}",
    )


async def _fill(dsn: str, account: str, count: int) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [await append(conn, entry(account, n)) for n in range(count)]
    finally:
        await conn.close()


async def _anchor(dsn: str, path: Path, interval_s: float) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await anchor_once(conn, path, interval_s)
    finally:
        await conn.close()


async def _rewrite_from(dsn: str, account: str, seq: int) -> None:
    """What someone with write access to the database does: change entry ``seq``, re-chain every later
    entry and move the head, so that every hash fits again."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            rows = await conn.fetch('SELECT * FROM "Atrium_AuditLog" WHERE account_id = $1 ORDER BY seq', account)
            prev = ""
            for row in rows:
                fields = hashed_fields(row)
                if int(row["seq"]) == seq:
                    fields["outcome"] = "refused"
                    await conn.execute('UPDATE "Atrium_AuditLog" SET outcome = $2 WHERE id = $1', row["id"], "refused")
                if int(row["seq"]) >= seq:
                    digest = entry_hash(prev, fields)
                    await conn.execute(
                        'UPDATE "Atrium_AuditLog" SET prev_hash = $2, hash = $3 WHERE id = $1', row["id"], prev, digest
                    )
                    prev = digest
                else:
                    prev = row["hash"]
            await conn.execute('UPDATE "Atrium_AuditHead" SET hash = $2 WHERE account_id = $1', account, prev)
        problem = await verify_account(conn, account)
        assert problem is None, f"the rewrite is not complete: {problem}"
    finally:
        await conn.close()


def test_heads_are_anchored_once_per_interval_and_a_full_rewrite_is_named(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = f"anchor-{uuid.uuid4().hex[:8]}"
    anchors = tmp_path / "anchors" / "audit-anchors.jsonl"
    rows = asyncio.run(_fill(database_url, account, 3))
    assert asyncio.run(_anchor(database_url, anchors, 3600)) >= 1
    mine = [json.loads(line) for line in anchors.read_text().splitlines() if account in line]
    assert [(a["seq"], a["hash"]) for a in mine] == [(3, rows[2]["hash"])]
    assert mine[0]["time"] == rows[2]["time"]

    # Within the interval nothing is anchored again, even after the head moved (once across replicas:
    # the cursor row says when the chain was last anchored, whichever worker did it).
    asyncio.run(_fill(database_url, account, 2))
    asyncio.run(_anchor(database_url, anchors, 3600))
    assert sum(account in line for line in anchors.read_text().splitlines()) == 1
    # Past the interval the moved head is anchored: a second line.
    asyncio.run(_anchor(database_url, anchors, 0))
    mine = [json.loads(line) for line in anchors.read_text().splitlines() if account in line]
    assert [a["seq"] for a in mine] == [3, 5]

    assert (
        main(["audit", "verify", "--account", account, "--anchors", str(anchors), "--database-url", database_url]) == 0
    )
    capsys.readouterr()

    asyncio.run(_rewrite_from(database_url, account, 2))
    # The plain verify sees nothing: the rewrite re-chained every later entry and the head.
    assert main(["audit", "verify", "--account", account, "--database-url", database_url]) == 0
    capsys.readouterr()
    assert (
        main(["audit", "verify", "--account", account, "--anchors", str(anchors), "--database-url", database_url]) == 1
    )
    err = capsys.readouterr().err
    assert f"account {account}: rewritten: entry {rows[2]['id']} at seq 3" in err, err


def test_a_bad_anchors_file_is_a_clear_error(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"account_id": "a", "seq": 1, "hash": "x"}\nnot json\n')
    assert main(["audit", "verify", "--anchors", str(bad), "--database-url", database_url]) == 2
    assert "line 2 of the anchors file" in capsys.readouterr().err
