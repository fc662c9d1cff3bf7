"""Reading the instants and zones operators type: ``--at``, ``--from``, ``--to``, ``--tz``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ncctl.errors import UsageError

FIRST_YEAR = 1970
LAST_YEAR = 2199
"""Years ncctl answers for: the schedule engine has no meaning outside them."""


def _check_year(year: int, text: str, option: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise UsageError(
            f"{option} {text!r} is outside the years ncctl handles ({FIRST_YEAR}-{LAST_YEAR})",
            hint="give a time in that range",
        )


def parse_zone(name: str, option: str = "--tz") -> ZoneInfo:
    """An IANA zone by name, or a usage error naming the option."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise UsageError(
            f"{option} {name!r} is not a known time zone",
            hint="use an IANA name such as America/Chicago, UTC or Europe/London",
        ) from None


def parse_instant(text: str, zone: ZoneInfo, option: str = "--at") -> dt.datetime:
    """Parse ISO 8601. Without an offset the time is wall-clock time in ``zone``; a wall-clock
    time that does not exist (DST gap) or happens twice (DST fold) is a usage error."""
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not an ISO 8601 time",
            hint="write it like 2026-11-26T15:25, 2026-11-26T21:25Z or 2026-11-26T15:25-06:00",
        ) from None
    _check_year(parsed.year, text, option)
    if parsed.tzinfo is not None:
        if parsed.utcoffset() is None:
            raise UsageError(f"{option} {text!r} has no usable offset", hint="add one, like -06:00")
        return parsed
    first = parsed.replace(tzinfo=zone, fold=0)
    second = parsed.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    round_trip = first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != parsed:
        raise UsageError(
            f"{option} {text!r} does not exist in {zone.key}: the clocks jump forward then",
            hint="pick a time outside the DST gap, or give an explicit UTC offset",
        )
    raise UsageError(
        f"{option} {text!r} is ambiguous in {zone.key}: it happens twice when clocks go back",
        hint="give an explicit UTC offset, like -05:00 (first) or -06:00 (second)",
    )


def parse_date(text: str, option: str = "--week") -> dt.date:
    """A calendar date ``YYYY-MM-DD``."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a date", hint="write it as YYYY-MM-DD, like 2026-11-22"
        ) from None
    _check_year(day.year, text, option)
    return day
