"""Model actions through the wasm engine, in the shapes LiteLLM 1.108.7 uses them.

Shapes found by grepping site-packages/litellm/proxy (tests excluded; counts approximate):

* update (373): ``where`` by id, ``data`` with scalars, Json, ``{"increment": x}``,
  ``{"push": [...]}`` on String[], ``{"set": ...}``, relation ``connect``/``disconnect``
* find_many (260): ``where`` with ``in`` (138), ``OR``/``AND``/``NOT``, ``contains`` +
  ``mode: insensitive``, ``gte``/``lte``/``gt``/``lt``, ``has``/``hasSome``/``is_empty`` on
  String[], relation filters ``some``/``none``/``is``, ``order``, ``take``, ``skip``,
  ``distinct``, ``include`` (nested relations)
* find_unique (250), find_first (63): by id / compound unique, ``include``
* delete (102), delete_many (34), update_many (33), upsert (56) with ``create``/``update``
  (and nested ``connect`` in both), create (66), create_many (14, with ``skip_duplicates``),
  count (28), group_by (9, with ``by``/``sum``/``count``/``order``)
* Json path filters on LiteLLM_SpendLogs.metadata: ``path`` + ``string_contains`` /
  ``equals``; BigInt counters (LiteLLM_Daily*Spend); DateTime ranges; Bytes
  (LiteLLM_ManagedFileContentTable); enum (LiteLLM_CronJob.status)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prisma import Base64, Json

UTC = dt.UTC


async def _team(db: Any, team_id: str, **data: Any) -> Any:
    return await db.litellm_teamtable.create(data={"team_id": team_id, **data})


async def test_create_and_find_unique_round_trips_types(db: Any, uid: str) -> None:
    created = await _team(
        db,
        uid,
        team_alias=f"{uid}-alias",
        metadata=Json({"tier": "gold", "nested": {"n": [1, 2.5, None, True]}, "text": 'q"uote\\'}),
        models=["gpt-4", "claude"],
        max_budget=12.5,
        tpm_limit=9_007_199_254_740_993,  # BigInt beyond 2**53
        budget_reset_at=dt.datetime(2024, 5, 1, 10, 30, 15, 123000, tzinfo=UTC),
    )
    found = await db.litellm_teamtable.find_unique(where={"team_id": uid})
    assert found is not None
    assert found.metadata == {"tier": "gold", "nested": {"n": [1, 2.5, None, True]}, "text": 'q"uote\\'}
    assert found.models == ["gpt-4", "claude"]
    assert found.max_budget == 12.5
    assert found.tpm_limit == 9_007_199_254_740_993
    assert found.budget_reset_at == dt.datetime(2024, 5, 1, 10, 30, 15, 123000, tzinfo=UTC)
    assert created.created_at.tzinfo is not None
    assert await db.litellm_teamtable.find_unique(where={"team_id": f"{uid}-missing"}) is None


async def test_json_is_stored_as_json_not_string(db: Any, uid: str) -> None:
    await _team(db, uid, metadata=Json({"a": 1}), model_spend=Json({"gpt": 0.5}))
    rows = await db.query_raw(
        "SELECT jsonb_typeof(metadata) AS m, jsonb_typeof(model_spend) AS s "
        'FROM "LiteLLM_TeamTable" WHERE team_id = $1',
        uid,
    )
    assert rows == [{"m": "object", "s": "object"}]
    await db.litellm_teamtable.update(where={"team_id": uid}, data={"metadata": Json(["x", 2])})
    row = await db.query_first('SELECT jsonb_typeof(metadata) AS m FROM "LiteLLM_TeamTable" WHERE team_id = $1', uid)
    assert row == {"m": "array"}
    # The session's gateways share this database: LiteLLM validates every team's metadata as an
    # object when it lists team models, so the array must not outlive the test.
    await db.litellm_teamtable.delete(where={"team_id": uid})


async def test_find_many_filters_order_take_skip(db: Any, uid: str) -> None:
    for i in range(5):
        await _team(db, f"{uid}-{i}", team_alias=f"{uid.upper()}-Alias-{i}", max_budget=float(i), models=[f"m{i}"])
    rows = await db.litellm_teamtable.find_many(
        where={"team_id": {"in": [f"{uid}-{i}" for i in range(5)]}, "max_budget": {"gte": 1, "lt": 4}},
        order={"max_budget": "desc"},
        take=2,
        skip=1,
    )
    assert [r.team_id for r in rows] == [f"{uid}-2", f"{uid}-1"]
    insensitive = await db.litellm_teamtable.find_many(
        where={"team_alias": {"contains": f"{uid}-alias", "mode": "insensitive"}}
    )
    assert len(insensitive) == 5
    either = await db.litellm_teamtable.find_many(
        where={"OR": [{"team_id": f"{uid}-0"}, {"models": {"has": "m4"}}], "NOT": {"team_id": f"{uid}-9"}},
        order=[{"team_id": "asc"}],
    )
    assert [r.team_id for r in either] == [f"{uid}-0", f"{uid}-4"]
    some = await db.litellm_teamtable.find_many(
        where={"models": {"has_some": ["m1", "m3"]}, "team_id": {"startswith": uid}}
    )
    assert sorted(r.team_id for r in some) == [f"{uid}-1", f"{uid}-3"]
    first = await db.litellm_teamtable.find_first(where={"team_id": {"startswith": uid}}, order={"team_id": "desc"})
    assert first is not None and first.team_id == f"{uid}-4"


async def test_array_updates_and_is_empty(db: Any, uid: str) -> None:
    await db.litellm_usertable.create(data={"user_id": uid, "teams": []})
    assert await db.litellm_usertable.count(where={"user_id": uid, "teams": {"is_empty": True}}) == 1
    await db.litellm_usertable.update(where={"user_id": uid}, data={"teams": {"push": ["t1"]}})
    n = await db.litellm_usertable.update_many(
        where={"user_id": uid, "NOT": {"teams": {"has": "t2"}}}, data={"teams": {"push": ["t2"]}}
    )
    assert n == 1
    user = await db.litellm_usertable.find_unique(where={"user_id": uid})
    assert user is not None and user.teams == ["t1", "t2"]
    await db.litellm_usertable.update(where={"user_id": uid}, data={"teams": {"set": ["only"]}})
    user = await db.litellm_usertable.find_unique(where={"user_id": uid})
    assert user is not None and user.teams == ["only"]


async def test_distinct_and_select_like_count(db: Any, uid: str) -> None:
    for i, env in enumerate(["prod", "dev", "prod"]):
        await db.litellm_dailyuserspend.create(
            data={
                "user_id": uid,
                "date": f"2024-01-0{i + 1}",
                "api_key": env,
                "model": "gpt",
                "spend": 1.0 + i,
            }
        )
    rows = await db.litellm_dailyuserspend.find_many(where={"user_id": uid}, distinct=["api_key"])
    assert sorted(r.api_key for r in rows) == ["dev", "prod"]
    assert await db.litellm_dailyuserspend.count(where={"user_id": uid}) == 3
    assert await db.litellm_dailyuserspend.count(where={"user_id": uid}, take=2) == 2


async def test_bigint_increment_and_group_by(db: Any, uid: str) -> None:
    row = await db.litellm_dailyuserspend.create(
        data={"user_id": uid, "date": "2024-02-01", "api_key": "k1", "model": "gpt", "prompt_tokens": 5}
    )
    await db.litellm_dailyuserspend.update(
        where={"id": row.id},
        data={
            "prompt_tokens": {"increment": 2**40},
            "spend": {"increment": 0.25},
            "api_requests": {"increment": 1},
        },
    )
    await db.litellm_dailyuserspend.create(
        data={
            "user_id": uid,
            "date": "2024-02-02",
            "api_key": "k1",
            "model": "gpt",
            "prompt_tokens": 10,
            "spend": 1,
        }
    )
    await db.litellm_dailyuserspend.create(
        data={
            "user_id": uid,
            "date": "2024-02-02",
            "api_key": "k2",
            "model": "gpt",
            "prompt_tokens": 1,
            "spend": 2,
        }
    )
    got = await db.litellm_dailyuserspend.find_unique(where={"id": row.id})
    assert got is not None and got.prompt_tokens == 5 + 2**40 and got.api_requests == 1 and got.spend == 0.25
    groups = await db.litellm_dailyuserspend.group_by(
        by=["api_key"],
        where={"user_id": uid},
        sum={"spend": True, "prompt_tokens": True},
        count={"_all": True},
        order={"api_key": "asc"},
    )
    assert [g["api_key"] for g in groups] == ["k1", "k2"]
    assert groups[0]["_sum"]["prompt_tokens"] == 15 + 2**40
    assert groups[0]["_sum"]["spend"] == 1.25
    assert groups[0]["_count"]["_all"] == 2


async def test_datetime_ranges_and_json_path_filters(db: Any, uid: str) -> None:
    base = dt.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    for i in range(3):
        await db.litellm_spendlogs.create(
            data={
                "request_id": f"{uid}-{i}",
                "call_type": "acompletion",
                "startTime": base + dt.timedelta(hours=i),
                "endTime": base + dt.timedelta(hours=i, seconds=1),
                "api_key": uid,
                "metadata": Json(
                    {"user_api_key_alias": f"alias-{i}", "error_information": {"error_code": str(400 + i)}}
                ),
                "request_tags": Json(["tag-a"]),
            }
        )
    in_range = await db.litellm_spendlogs.find_many(
        where={"api_key": uid, "startTime": {"gte": base, "lt": base + dt.timedelta(hours=2)}},
        order={"startTime": "asc"},
    )
    assert [r.request_id for r in in_range] == [f"{uid}-0", f"{uid}-1"]
    by_alias = await db.litellm_spendlogs.find_many(
        where={"api_key": uid, "metadata": {"path": ["user_api_key_alias"], "string_contains": "alias-2"}}
    )
    assert [r.request_id for r in by_alias] == [f"{uid}-2"]
    by_code = await db.litellm_spendlogs.find_many(
        where={"api_key": uid, "metadata": {"path": ["error_information", "error_code"], "equals": '"401"'}}
    )
    assert [r.request_id for r in by_code] == [f"{uid}-1"]
    both = await db.litellm_spendlogs.find_many(
        where={
            "AND": [
                {"api_key": uid},
                {"metadata": {"path": ["user_api_key_alias"], "string_contains": "alias"}},
            ]
        }
    )
    assert len(both) == 3


async def test_bytes_and_enums(db: Any, uid: str) -> None:
    blob = bytes(range(256)) * 3
    row = await db.litellm_managedfilecontenttable.create(data={"id": uid, "content": Base64.encode(blob)})
    assert row.content.decode() == blob
    got = await db.litellm_managedfilecontenttable.find_unique(where={"id": uid})
    assert got is not None and got.content.decode() == blob
    job = await db.litellm_cronjob.create(
        data={
            "cronjob_id": uid,
            "pod_id": "pod-1",
            "status": "ACTIVE",
            "ttl": dt.datetime(2030, 1, 1, tzinfo=UTC),
        }
    )
    assert job.status == "ACTIVE"
    assert await db.litellm_cronjob.count(where={"cronjob_id": uid, "status": {"in": ["ACTIVE"]}}) == 1
    await db.litellm_cronjob.update(where={"cronjob_id": uid}, data={"status": "INACTIVE"})
    again = await db.litellm_cronjob.find_first(where={"pod_id": "pod-1", "cronjob_id": uid})
    assert again is not None and again.status == "INACTIVE"


async def test_upsert_with_nested_connect_and_include(db: Any, uid: str) -> None:
    # common_utils.upsert_budget_and_membership: create budget (include), upsert membership + connect
    budget = await db.litellm_budgettable.create(
        data={"budget_id": uid, "max_budget": 10.0, "created_by": "t", "updated_by": "t"},
        include={"team_membership": True},
    )
    assert budget.team_membership == []
    for role_budget in (10.0, 20.0):  # first call creates, second updates
        await db.litellm_budgettable.update(where={"budget_id": uid}, data={"max_budget": role_budget})
        await db.litellm_teammembership.upsert(
            where={"user_id_team_id": {"user_id": uid, "team_id": uid}},
            data={
                "create": {
                    "user_id": uid,
                    "team_id": uid,
                    "litellm_budget_table": {"connect": {"budget_id": budget.budget_id}},
                },
                "update": {"litellm_budget_table": {"connect": {"budget_id": budget.budget_id}}},
            },
        )
    membership = await db.litellm_teammembership.find_unique(
        where={"user_id_team_id": {"user_id": uid, "team_id": uid}}, include={"litellm_budget_table": True}
    )
    assert membership is not None and membership.litellm_budget_table is not None
    assert membership.litellm_budget_table.max_budget == 20.0

    await db.litellm_usertable.create(data={"user_id": uid})
    await db.litellm_organizationtable.create(
        data={
            "organization_id": uid,
            "organization_alias": "org",
            "models": [],
            "created_by": "t",
            "updated_by": "t",
            "litellm_budget_table": {"connect": {"budget_id": uid}},
        }
    )
    await db.litellm_organizationmembership.create(
        data={"user_id": uid, "organization_id": uid, "user_role": "internal_user", "budget_id": uid}
    )
    member = await db.litellm_organizationmembership.find_unique(
        where={"user_id_organization_id": {"user_id": uid, "organization_id": uid}},
        include={"user": True, "organization": {"include": {"litellm_budget_table": True}}},
    )
    assert member is not None and member.user is not None and member.user.user_id == uid
    assert member.organization is not None and member.organization.litellm_budget_table is not None
    users = await db.litellm_usertable.find_many(
        where={"organization_memberships": {"some": {"organization_id": {"in": [uid]}}}},
        include={"organization_memberships": {"where": {"user_role": "internal_user"}, "take": 5}},
    )
    assert [u.user_id for u in users] == [uid]
    assert users[0].organization_memberships is not None and len(users[0].organization_memberships) == 1
    none = await db.litellm_usertable.find_many(
        where={"user_id": uid, "organization_memberships": {"none": {"user_role": "internal_user"}}}
    )
    assert none == []
    via_is = await db.litellm_organizationmembership.find_many(where={"user": {"is": {"user_id": uid}}})
    assert len(via_is) == 1


async def test_disconnect_and_delete(db: Any, uid: str) -> None:
    await db.litellm_budgettable.create(data={"budget_id": uid, "created_by": "t", "updated_by": "t"})
    await db.litellm_teammembership.create(
        data={"user_id": uid, "team_id": uid, "litellm_budget_table": {"connect": {"budget_id": uid}}}
    )
    await db.litellm_teammembership.update(
        where={"user_id_team_id": {"user_id": uid, "team_id": uid}},
        data={"litellm_budget_table": {"disconnect": True}},
    )
    tm = await db.litellm_teammembership.find_unique(where={"user_id_team_id": {"user_id": uid, "team_id": uid}})
    assert tm is not None and tm.budget_id is None
    deleted = await db.litellm_teammembership.delete(where={"user_id_team_id": {"user_id": uid, "team_id": uid}})
    assert deleted is not None and deleted.user_id == uid
    assert await db.litellm_teammembership.delete(where={"user_id_team_id": {"user_id": uid, "team_id": uid}}) is None
    await _team(db, f"{uid}-a")
    await _team(db, f"{uid}-b")
    assert await db.litellm_teamtable.delete_many(where={"team_id": {"startswith": uid}}) == 2
    assert await db.litellm_teamtable.count(where={"team_id": {"startswith": uid}}) == 0


async def test_strings_with_quotes_unicode_and_newlines(db: Any, uid: str) -> None:
    alias = 'multi\nline "quoted" \\ back\tslash — ünïcödé 🚀 $1 {x} (y)'
    await _team(db, uid, team_alias=alias, metadata=Json({"s": alias}))
    got = await db.litellm_teamtable.find_unique(where={"team_id": uid})
    assert got is not None and got.team_alias == alias and got.metadata == {"s": alias}
    assert await db.litellm_teamtable.count(where={"team_alias": alias}) == 1


async def test_cursor_pagination(db: Any, uid: str) -> None:
    for i in range(4):
        await _team(db, f"{uid}-{i}")
    page = await db.litellm_teamtable.find_many(
        where={"team_id": {"startswith": uid}},
        cursor={"team_id": f"{uid}-1"},
        take=2,
        skip=1,
        order={"team_id": "asc"},
    )
    assert [t.team_id for t in page] == [f"{uid}-2", f"{uid}-3"]


async def test_metrics_endpoint(db: Any) -> None:
    await db.litellm_teamtable.count()
    metrics = await db.get_metrics()
    counters = {c.key: c.value for c in metrics.counters}
    assert counters["prisma_client_queries_total"] >= 1
    text = await db.get_metrics(format="prometheus", global_labels={"svc": "atrium"})
    assert 'prisma_client_queries_total{svc="atrium"}' in text
