"""Budget periods: fixed durations from an anchor, or calendar months in the account's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from extensions.errors import RequestError, echo

__all__ = ["CALENDAR_MONTH", "Period", "check_duration", "check_timezone", "db_time", "period_at"]

CALENDAR_MONTH: Final = "calendar_month"
_DURATION: Final = re.compile(r"^([1-9][0-9]{0,5})([smhdw])$")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# A period that never resets ends here (no duration set).
_OPEN_END: Final = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC; the reset time

    @property
    def resets(self) -> bool:
        return self.end != _OPEN_END


def check_duration(value: str | None) -> str | None:
    """``30d``, ``12h``, ``15m``, ``45s``, ``2w`` or ``calendar_month``; None: the budget never resets."""
    if value is None or value == CALENDAR_MONTH or _DURATION.match(value):
        return value
    raise RequestError(
        f"budget_duration {echo(value)} is not a duration",
        hint="use <n>s, <n>m, <n>h, <n>d or <n>w (for example 30d), or calendar_month",
    )


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RequestError(
            f"timezone {echo(value)} is not an IANA time zone", hint="for example UTC or Europe/Paris"
        ) from exc
    return value


def _month_start(moment: datetime, zone: ZoneInfo, months_ahead: int = 0) -> datetime:
    local = moment.astimezone(zone)
    month_index = local.year * 12 + (local.month - 1) + months_ahead
    start = datetime(month_index // 12, month_index % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC)


def period_at(now: datetime, *, duration: str | None, anchor: datetime, timezone: str = "UTC") -> Period:
    """The budget period ``now`` falls in (``anchor``: when the budget's duration was set)."""
    if duration is None:
        return Period(anchor.astimezone(UTC), _OPEN_END)
    if duration == CALENDAR_MONTH:
        zone = ZoneInfo(timezone)
        return Period(_month_start(now, zone), _month_start(now, zone, 1))
    match = _DURATION.match(duration)
    if match is None:
        raise RequestError(f"budget_duration {echo(duration)} is not a duration", hint="see /account/budget")
    length = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    elapsed = max(now - anchor, timedelta(0))
    start = anchor + (elapsed // length) * length
    return Period(start.astimezone(UTC), (start + length).astimezone(UTC))


def db_time(moment: datetime) -> datetime:
    """A moment as the budget tables store it: UTC without zone (TIMESTAMP(3), as Prisma writes), at
    millisecond precision, so a period row is found again by its start."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return utc.replace(tzinfo=None, microsecond=utc.microsecond // 1000 * 1000)
