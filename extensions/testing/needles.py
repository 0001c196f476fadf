"""What identifies one account's rows: the strings a scan of another account's responses looks for.

Read from the database, not from what a test created, so every id LiteLLM generated on the way
(request ids, session ids, hashed keys, model ids) and every amount it billed is included. A value
that any row outside the account also holds (a shared model name, the dashboard team, the same
per-request price) identifies nothing and is left out.
"""

from __future__ import annotations

import re

import asyncpg

__all__ = ["account_needles"]

# Columns that name or identify a row: ids, hashed keys, aliases, names, emails.
_IDENTIFYING = re.compile(
    r"(^id$|_id$|^token$|^api_key$|_name$|_alias$|_email$|^user$|^end_user$|^tag$|^tag_name$)", re.IGNORECASE
)
_AMOUNT = re.compile(r"(^spend$|_spend$)", re.IGNORECASE)
_MIN_LENGTH = 6  # shorter values ("admin", "en") match unrelated text


async def _columns(conn: asyncpg.Connection) -> dict[str, list[tuple[str, str]]]:
    """Table -> (column, kind) of every table that carries ``account_id``."""
    rows = await conn.fetch(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "WHERE c.table_schema = current_schema() AND c.table_name IN ("
        "  SELECT table_name FROM information_schema.columns "
        "  WHERE column_name = 'account_id' AND table_schema = current_schema())"
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        column, data_type = row["column_name"], row["data_type"]
        if column == "account_id":
            continue
        if data_type in ("text", "character varying") and _IDENTIFYING.search(column):
            found.setdefault(row["table_name"], []).append((column, "text"))
        elif data_type in ("double precision", "numeric", "real") and _AMOUNT.search(column):
            found.setdefault(row["table_name"], []).append((column, "amount"))
    return found


def _amount_forms(value: float) -> list[str]:
    # As JSON carries it, and as the UI prints it (the logs show 6 decimals, totals 4).
    return [repr(value), f"{value:.6f}", f"{value:.4f}"]


async def account_needles(dsn: str, account_id: str) -> dict[str, str]:
    """``needle -> "table.column"`` for the account's identifying values and spend amounts."""
    conn = await asyncpg.connect(dsn)
    try:
        mine: dict[str, str] = {account_id: "account_id"}
        elsewhere: set[str] = set()
        for table, columns in sorted((await _columns(conn)).items()):
            for column, kind in columns:
                rows = await conn.fetch(
                    f'SELECT DISTINCT "{column}" AS v, account_id FROM "{table}" WHERE "{column}" IS NOT NULL'
                )
                for row in rows:
                    owner = row["account_id"]
                    if kind == "amount":
                        if not row["v"]:
                            continue
                        forms = _amount_forms(float(row["v"]))
                    else:
                        text = str(row["v"])
                        # Atrium stores some names as "<account_id>/<name>"; clients see the name.
                        forms = [text, text.removeprefix(f"{owner}/")] if owner else [text]
                    for form in forms:
                        if owner == account_id:
                            mine.setdefault(form, f"{table}.{column}")
                        else:
                            elsewhere.add(form)
        return {
            needle: where
            for needle, where in mine.items()
            if needle not in elsewhere and len(needle) >= _MIN_LENGTH and needle.strip("0.") != ""
        }
    finally:
        await conn.close()
