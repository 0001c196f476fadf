"""query_raw / query_first / execute_raw through the wasm engine.

LiteLLM's raw SQL (about 170 call sites) returns: COUNT(*) (bigint), SUM over floats and
numerics, COALESCE, ``::float``/``::bigint``/``::numeric`` casts, timestamps with and
without time zone (``NOW()``, ``date_trunc``), ``::date`` and ``to_char`` strings,
``jsonb_build_object``/``jsonb_agg``/``json_agg``, ``::text[]`` and ``ARRAY_AGG(viewname)``
(``name[]``, which @prisma/adapter-pg 5.17 rejects on its own), EXISTS booleans, and
takes parameters as text, numbers, lists (``= ANY($1::text[])``) and ISO datetimes
(``$1::timestamptz``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prisma import Json


async def test_scalar_column_types(db: Any) -> None:
    row = await db.query_first(
        """
        SELECT 1::int AS i, 9007199254740993::bigint AS b, 1.25::numeric AS n, 2.5::float8 AS f,
               1.5::real AS r, true AS t, 'x'::text AS s, 'y'::varchar(3) AS v, 'z'::char(2) AS c,
               DATE '2024-02-29' AS d, TIMESTAMP '2024-01-02 03:04:05.678' AS ts,
               TIMESTAMPTZ '2024-01-02 03:04:05.678+00' AS tstz, TIME '10:11:12' AS tm,
               '{"a": [1, 2]}'::jsonb AS jb, '{"b": null}'::json AS j,
               'c0a80000-0000-0000-0000-000000000001'::uuid AS u, NULL::text AS nothing,
               '\\x0102'::bytea AS by, to_char(DATE '2024-02-29', 'YYYY-MM') AS month
        """
    )
    assert row["i"] == 1 and row["b"] == 9007199254740993
    assert row["n"] == 1.25 and row["f"] == 2.5 and row["r"] == 1.5
    assert row["t"] is True and row["s"] == "x" and row["v"] == "y" and row["c"] == "z "
    assert row["d"] == "2024-02-29"
    assert dt.datetime.fromisoformat(row["ts"]) == dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(row["tstz"]) == dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert row["tm"].startswith("10:11:12")
    assert row["jb"] == {"a": [1, 2]} and row["j"] == {"b": None}
    assert row["u"] == "c0a80000-0000-0000-0000-000000000001"
    assert row["nothing"] is None and row["month"] == "2024-02"
    assert row["by"] is not None


async def test_columns_adapter_pg_rejects_are_text(db: Any) -> None:
    row = await db.query_first(
        """
        SELECT ARRAY['pg_class', 'pg_type']::name[] AS names, 'pg_class'::name AS one_name,
               'x'::"char" AS ch, INTERVAL '1 day 02:00:00' AS iv, 'pg_class'::regclass AS rc,
               ARRAY[INTERVAL '1 hour'] AS ivs, ARRAY[]::name[] AS empty_names
        """
    )
    assert row["names"] == ["pg_class", "pg_type"]
    assert row["one_name"] == "pg_class" and row["ch"] == "x"
    assert row["iv"] == "1 day 02:00:00" and row["rc"] == "pg_class"
    assert row["ivs"] == ["01:00:00"] and row["empty_names"] == []


async def test_litellm_view_check_query(db: Any) -> None:
    # proxy/utils.py: PrismaClient.check_view_exists
    ret = await db.query_raw(
        """
        WITH existing_views AS (
            SELECT viewname FROM pg_views
            WHERE schemaname = 'pg_catalog' AND viewname IN ('pg_tables', 'pg_views')
        )
        SELECT (SELECT COUNT(*) FROM existing_views) AS view_count, ARRAY_AGG(viewname) AS view_names
        FROM existing_views
        """
    )
    assert ret[0]["view_count"] == 2
    assert sorted(ret[0]["view_names"]) == ["pg_tables", "pg_views"]


async def test_timestamptz_is_utc_whatever_the_session_time_zone(db: Any) -> None:
    async with db.tx() as tx:
        await tx.execute_raw("SET LOCAL TIME ZONE 'America/New_York'")
        row = await tx.query_first(
            "SELECT TIMESTAMPTZ '2024-07-01 12:00:00.250+00' AS t, "
            "ARRAY[TIMESTAMPTZ '2024-01-01 00:00:00+00'] AS ts, current_setting('TimeZone') AS tz"
        )
    assert row["tz"] == "America/New_York"
    assert dt.datetime.fromisoformat(row["t"]) == dt.datetime(2024, 7, 1, 12, 0, 0, 250000, tzinfo=dt.UTC)
    assert [dt.datetime.fromisoformat(v) for v in row["ts"]] == [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)]


async def test_aggregates_over_spend_logs(db: Any, uid: str) -> None:
    start = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    await db.litellm_spendlogs.create_many(
        data=[
            {
                "request_id": f"{uid}-{i}",
                "call_type": "acompletion",
                "api_key": uid,
                "spend": 0.5 * i,
                "total_tokens": 10 * i,
                "model": "gpt" if i % 2 else "claude",
                "startTime": start + dt.timedelta(days=i % 3),
                "endTime": start + dt.timedelta(days=i % 3, seconds=2),
                "request_tags": Json(["a", "b"] if i % 2 else []),
                "metadata": Json({"user_api_key_team_id": "team-1"}),
            }
            for i in range(1, 7)
        ]
    )
    rows = await db.query_raw(
        """
        SELECT date_trunc('day', "startTime")::date AS day, COUNT(*) AS n, SUM(spend)::float AS spend,
               SUM(total_tokens) AS tokens, COALESCE(SUM(spend), 0)::numeric AS spend_num,
               jsonb_agg(DISTINCT model) AS models, array_agg(DISTINCT model)::text[] AS model_arr,
               EXISTS (SELECT 1 FROM "LiteLLM_SpendLogs" s2
                       WHERE s2.api_key = $1 AND s2.spend > 2) AS any_big,
               jsonb_build_object('k', MAX(spend), 'at', MAX("startTime")) AS obj
        FROM "LiteLLM_SpendLogs"
        WHERE api_key = $1 AND "startTime" >= $2::timestamptz AND model = ANY($3::text[])
        GROUP BY 1 ORDER BY 1
        """,
        uid,
        start,
        ["gpt", "claude"],
    )
    assert [r["day"] for r in rows] == ["2024-04-01", "2024-04-02", "2024-04-03"]
    assert [r["n"] for r in rows] == [2, 2, 2]
    assert sum(r["spend"] for r in rows) == 10.5 and sum(r["tokens"] for r in rows) == 210
    assert all(isinstance(r["spend_num"], float) for r in rows)
    assert rows[0]["models"] == ["claude", "gpt"] and rows[0]["model_arr"] == ["claude", "gpt"]
    assert rows[0]["any_big"] is True and rows[0]["obj"]["k"] == 3.0
    tags = await db.query_raw(
        """
        SELECT jsonb_array_elements_text(request_tags) AS tag, COUNT(*) AS n
        FROM "LiteLLM_SpendLogs" WHERE api_key = $1 GROUP BY 1 ORDER BY 1
        """,
        uid,
    )
    assert tags == [{"tag": "a", "n": 3}, {"tag": "b", "n": 3}]


async def test_execute_raw_upsert_like_daily_spend_writer(db: Any, uid: str) -> None:
    sql = """
        INSERT INTO "LiteLLM_DailyUserSpend" (id, user_id, date, api_key, model, custom_llm_provider,
            prompt_tokens, completion_tokens, spend, api_requests, successful_requests, failed_requests,
            created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NOW(), NOW())
        ON CONFLICT (user_id, date, api_key, model, custom_llm_provider, mcp_namespaced_tool_name, endpoint)
        DO UPDATE SET spend = "LiteLLM_DailyUserSpend".spend + EXCLUDED.spend,
                      prompt_tokens = "LiteLLM_DailyUserSpend".prompt_tokens + EXCLUDED.prompt_tokens
    """
    args = (uid, uid, "2024-05-01", "k", "gpt", "openai", 2**40, 3, 0.75, 1, 1, 0)
    assert await db.execute_raw(sql, *args) == 1
    row = await db.litellm_dailyuserspend.find_first(where={"user_id": uid})
    assert row is not None and row.prompt_tokens == 2**40 and row.spend == 0.75
    assert await db.execute_raw('DELETE FROM "LiteLLM_DailyUserSpend" WHERE user_id = $1', uid) == 1
    assert await db.execute_raw('DELETE FROM "LiteLLM_DailyUserSpend" WHERE user_id = $1', uid) == 0


async def test_parameters_of_every_kind(db: Any) -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    row = await db.query_first(
        "SELECT $1::text AS s, $2::int AS i, $3::float8 AS f, $4::boolean AS b, $5::timestamptz AS t, "
        "$6::text[] AS arr, $7::jsonb AS j, $8::text IS NULL AS is_null, $9::bigint AS big",
        'it\'s "quoted" $2',
        42,
        1.5,
        True,
        when,
        ["a", "b,c", 'd"e'],
        '{"x": 1}',
        None,
        2**62,
    )
    assert row["s"] == 'it\'s "quoted" $2' and row["i"] == 42 and row["f"] == 1.5 and row["b"] is True
    assert dt.datetime.fromisoformat(row["t"]) == when
    assert row["arr"] == ["a", "b,c", 'd"e'] and row["j"] == {"x": 1} and row["is_null"] is True
    assert row["big"] == 2**62


async def test_query_raw_into_model(db: Any, uid: str) -> None:
    from prisma.models import LiteLLM_TeamTable

    await db.litellm_teamtable.create(data={"team_id": uid, "metadata": Json({"k": "v"}), "models": ["m"]})
    teams = await db.query_raw('SELECT * FROM "LiteLLM_TeamTable" WHERE team_id = $1', uid, model=LiteLLM_TeamTable)
    assert len(teams) == 1 and teams[0].team_id == uid and teams[0].metadata == {"k": "v"}
    assert teams[0].models == ["m"]
    assert await db.query_first("SELECT 1 AS x WHERE false") is None
