"""LiteLLM's legacy ``GET /spend/logs`` (``view_spend_logs``) over the caller's account.

Without a date range, or with ``summarize=false``: the newest spend-log rows (at most 10,000,
``x-litellm-spend-logs-truncated`` when cut). With ``start_date`` and ``end_date`` and
``summarize=true`` (the default): spend per day, per key, user and model, padded with empty days
up to ``end_date``. A member reads its own user's rows only, as LiteLLM restricts internal users.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from extensions import litellm
from extensions.models.presentation import unprefixed
from extensions.routes.replacements.litellm_errors import proxy_error
from extensions.routes.replacements.scope import admin_view, in_account, pool
from extensions.tenancy.request.context import Principal

__all__ = ["SPEND_LOGS_CAP", "legacy_spend_logs"]

SPEND_LOGS_CAP = 10000  # LiteLLM's SPEND_LOGS_PAGINATION_COUNT_CAP


def _day(value: str, name: str) -> datetime:
    # LiteLLM parses with strptime("%Y-%m-%d") and answers a bad date with a 500; bad input is a 400 here.
    try:
        return datetime.strptime(value, "%Y-%m-%d")
    except ValueError as exc:
        raise proxy_error(400, f"Invalid {name}: expected YYYY-MM-DD", param=name) from exc


class _Where:
    def __init__(self, account_id: str | None) -> None:
        self.clauses = [in_account()]
        self.args: list[Any] = [account_id]

    def add(self, clause: str, value: Any) -> None:
        if value is None:
            return
        self.args.append(value)
        self.clauses.append(clause.replace("?", f"${len(self.args)}"))

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)


async def _rows(ctx: Principal, where: _Where) -> tuple[list[Any], bool]:
    records = await pool().fetch(
        f'SELECT to_jsonb(s)::text AS row FROM "LiteLLM_SpendLogs" s WHERE {where.sql} '
        f'ORDER BY s."startTime" DESC LIMIT {SPEND_LOGS_CAP}',
        *where.args,
    )
    rows = [unprefixed(ctx.account_id, json.loads(r["row"])) for r in records]
    return rows, len(rows) == SPEND_LOGS_CAP


def _sum_by(rows: list[Any], column: str) -> dict[Any, float]:
    totals: dict[Any, float] = {}
    for row in rows:
        totals[row[column]] = totals.get(row[column], 0.0) + float(row["spend"])
    return totals


async def _summary(ctx: Principal, where: _Where, start: datetime, end: datetime) -> list[dict[str, Any]]:
    where.add('s."startTime" >= ?', start)
    where.add('s."startTime" <= ?', end)
    records = await pool().fetch(
        "SELECT to_char(date_trunc('day', s.\"startTime\"), 'YYYY-MM-DD') AS day, s.api_key, s.\"user\", s.model, "
        f'SUM(s.spend) AS spend FROM "LiteLLM_SpendLogs" s WHERE {where.sql} GROUP BY 1, 2, 3, 4 ORDER BY 1',
        *where.args,
    )
    rows = [dict(r) for r in records]
    items: list[dict[str, Any]] = []
    for day, grouped in groupby(rows, key=lambda row: row["day"]):
        day_rows = list(grouped)
        keys = {k: v for k, v in _sum_by(day_rows, "api_key").items() if k is not None}
        items.append(
            {
                **keys,
                "startTime": day,
                "spend": sum(float(row["spend"]) for row in day_rows),
                "users": _sum_by(day_rows, "user"),
                "models": _sum_by(day_rows, "model"),
            }
        )
    if rows:
        final = date.fromisoformat(rows[-1]["day"])
        for offset in range(1, (end.date() - final).days + 1):
            padded = (final + timedelta(days=offset)).isoformat()
            items.append({"startTime": padded, "spend": 0, "users": {}, "models": {}})
    shown: list[dict[str, Any]] = unprefixed(ctx.account_id, items)
    return shown


async def legacy_spend_logs(
    ctx: Principal,
    *,
    api_key: str | None,
    user_id: str | None,
    request_id: str | None,
    start_date: str | None,
    end_date: str | None,
    summarize: bool,
) -> tuple[Any, bool]:
    """The body LiteLLM answers, and whether the row list was cut at :data:`SPEND_LOGS_CAP`."""
    where = _Where(ctx.account_id)
    if not admin_view(ctx):
        # LiteLLM forces an internal user's own user id; a principal without one reads nothing.
        user_id = ctx.user_id
        if user_id is None:
            where.clauses.append("FALSE")
    if api_key is not None:
        where.add("s.api_key = ?", litellm.hash_token(api_key) if api_key.startswith("sk-") else api_key)
    if start_date is not None and end_date is not None:
        start, end = _day(start_date, "start_date"), _day(end_date, "end_date")
        if summarize:
            where.add("s.request_id = ?", request_id)
            where.add('s."user" = ?', user_id)
            return await _summary(ctx, where, start, end), False
        where.add('s."startTime" >= ?', start)
        where.add('s."startTime" <= ?', end)
    where.add("(s.request_id = ? OR s.litellm_call_id = ?)", request_id)  # both "?" name the one bind
    where.add('s."user" = ?', user_id)
    return await _rows(ctx, where)
