"""``GET /{entity}/daily/activity/export``: the account's daily rows as CSV or JSON, streamed.

LiteLLM 1.108.7's export (``_register_export_route``): keyset pages of
``USAGE_EXPORT_BATCH_SIZE`` rows, the first page read before the answer starts (so a failure is a
status, not a cut stream), CSV cells that a spreadsheet would run as a formula quoted, and the same
file name. Model names and end-user ids come out in the account's public form.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations when they are
# registered, and `Depends(query_of)` names a closure variable that a postponed (string) annotation
# would look up in the module's globals, making `query` a required query parameter.
import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse

from extensions import litellm
from extensions.budgets.entitlements import EntitlementExceeded, require_feature
from extensions.routes.replacements.handlers import serves
from extensions.routes.replacements.usage import access, lookups, sql
from extensions.routes.replacements.usage.scope import Entity, Scope
from extensions.routes.replacements.usage.scope import Query as EntityQuery
from extensions.tenancy.request.context import current_principal

__all__ = ["EXPORT_FIELDS", "register_export"]

# LiteLLM's ExportRow, in field order: the CSV header and the JSON objects' keys.
EXPORT_FIELDS = (
    "date",
    "entity_id",
    "entity_alias",
    "api_key",
    "key_alias",
    "user_id",
    "user_email",
    "model",
    "spend",
    "flat_cost",
    "prompt_tokens",
    "completion_tokens",
    "api_requests",
    "successful_requests",
    "failed_requests",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)

Row = dict[str, Any]


def _public_row(account_id: str | None, record: Any) -> Row:
    prefix = f"{account_id}/" if account_id is not None else None
    row: Row = {}
    for name in EXPORT_FIELDS:
        value = record[name]
        if prefix is not None and isinstance(value, str):
            value = value.replace(prefix, "")
        row[name] = value
    return row


def _cursor(record: Any, kind: sql.ExportType) -> sql.ExportCursor:
    """LiteLLM's ``_next_export_cursor``, on the stored (not yet public) values."""
    key = {
        sql.ExportType.DAILY_WITH_KEYS: record["api_key"],
        sql.ExportType.DAILY_WITH_MODELS: record["model"],
        sql.ExportType.DAILY_WITH_USERS: record["user_id"],
    }.get(kind)
    return sql.ExportCursor(record["date"], record["entity_id"], key or "")


async def _batches(scope: Scope, kind: sql.ExportType) -> AsyncIterator[list[Any]]:
    after: sql.ExportCursor | None = None
    size = litellm.USAGE_EXPORT_BATCH_SIZE
    while True:
        statement = sql.export(scope, kind=kind, after=after, batch_size=size)
        batch = list(await lookups.pool().fetch(statement.sql, *statement.params))
        yield batch
        if len(batch) < size:
            return
        after = _cursor(batch[-1], kind)


def _csv_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return f"'{value}"
    return value


def _csv_line(values: Sequence[object]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerow([_csv_cell(v) for v in values])
    return out.getvalue().encode()


async def _stream(
    first: list[Any], rest: AsyncIterator[list[Any]], account_id: str | None, file_format: str
) -> AsyncIterator[bytes]:
    rows_seen = 0

    async def rows() -> AsyncIterator[Row]:
        for record in first:
            yield _public_row(account_id, record)
        async for batch in rest:
            for record in batch:
                yield _public_row(account_id, record)

    if file_format == "csv":
        yield _csv_line(EXPORT_FIELDS)
        async for row in rows():
            yield _csv_line(list(row.values()))
        return
    async for row in rows():
        yield (b"[" if rows_seen == 0 else b",") + json.dumps(row, separators=(",", ":")).encode()
        rows_seen += 1
    yield b"[]" if rows_seen == 0 else b"]"


def register_export(router: APIRouter, entity: Entity, prefix: str, query_of: Callable[..., EntityQuery]) -> None:
    async def export(
        query: Annotated[EntityQuery, Depends(query_of)],
        export_type: sql.ExportType = sql.ExportType.DAILY,
        file_format: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv",
    ) -> StreamingResponse:
        principal = current_principal()
        try:
            await require_feature(principal.account_id, "usage_export", "usage export")
        except EntitlementExceeded as exc:  # LiteLLM's form on its usage routes, with Atrium's code
            raise HTTPException(status_code=exc.status, detail={"error": exc.message, "code": exc.code}) from exc
        scope = await access.resolve(entity, query, principal, capped=True)
        batches = _batches(scope, export_type)
        first = await anext(batches)
        extension = "csv" if file_format == "csv" else "json"
        start, end = date.fromisoformat(scope.start_date), date.fromisoformat(scope.end_date)
        name = f"{entity.name}-usage-{start.isoformat()}-{end.isoformat()}-{export_type.value}.{extension}"
        return StreamingResponse(
            _stream(first, batches, scope.account_id, file_format),
            media_type="text/csv" if file_format == "csv" else "application/json",
            headers={"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="{name}"'},
        )

    router.add_api_route(
        f"{prefix}/daily/activity/export", export, methods=["GET"], openapi_extra=serves(entity.handler)
    )
