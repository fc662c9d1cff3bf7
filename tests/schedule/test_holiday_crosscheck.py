"""Cross-check the shipped holiday tables against pandas_market_calendars' "CME Globex Equity".

pandas_market_calendars is a dev-only dependency (never imported by the CLI) and has known
errors; accepted differences go in KNOWN_DISAGREEMENTS with the reason. The test fails on any
other difference, and on a listed difference that no longer differs (so the list stays true).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ncctl.schedule.files import HolidaySpec, load_holiday_table

pytestmark = pytest.mark.slow

CHICAGO = ZoneInfo("America/Chicago")
FIRST_DAY = dt.date(2026, 1, 1)
LAST_DAY = dt.date(2027, 12, 31)
REGULAR_CLOSE = dt.time(16, 0)  # docs/design.md §2.1: the daily halt is at 16:00 CT

KNOWN_DISAGREEMENTS: dict[dt.date, str] = {}
"""Dates where our tables and pandas_market_calendars are known to differ, with the reason."""


@functools.cache
def pandas_market_calendars_closes() -> dict[dt.date, str]:
    """Close time (CT, ISO) of every session of CME Globex Equity in 2026-2027."""
    import pandas_market_calendars as mcal

    calendar = mcal.get_calendar("CME Globex Equity")
    schedule = calendar.schedule(start_date=FIRST_DAY.isoformat(), end_date=LAST_DAY.isoformat())
    closes: dict[dt.date, str] = {}
    for session, close in zip(schedule.index, schedule["market_close"], strict=True):
        local_close = close.to_pydatetime().astimezone(CHICAGO)
        assert local_close.date() == session.date(), f"{session}: closes on another day"
        closes[session.date()] = local_close.time().isoformat()
    return closes


def our_close(day: dt.date, holidays: Mapping[dt.date, HolidaySpec]) -> str:
    """What our tables say of a weekday: 'closed' or its close time (CT, ISO)."""
    h = holidays.get(day)
    if h is None:
        return REGULAR_CLOSE.isoformat()
    if h.kind == "closed":
        return "closed"
    assert h.close_time is not None
    return h.close_time.isoformat()


def disagreements(holidays: Mapping[dt.date, HolidaySpec]) -> dict[dt.date, str]:
    """Every weekday of 2026-2027 where ``holidays`` and pandas_market_calendars differ."""
    theirs = pandas_market_calendars_closes()
    out: dict[dt.date, str] = {}
    for i in range((LAST_DAY - FIRST_DAY).days + 1):
        day = FIRST_DAY + dt.timedelta(days=i)
        if day.weekday() >= 5:
            continue
        ours, other = our_close(day, holidays), theirs.get(day, "closed")
        if ours != other:
            out[day] = f"ours {ours}, pandas_market_calendars {other}"
    return out


def shipped_holidays(paths: tuple[Path, ...]) -> dict[dt.date, HolidaySpec]:
    tables = [load_holiday_table(p) for p in paths]
    assert sorted(t.year for t in tables) == [2026, 2027]
    return {h.date: h for t in tables for h in t.holidays}


def test_holiday_tables_agree_with_pandas_market_calendars(
    holiday_paths: tuple[Path, ...],
) -> None:
    holidays = shipped_holidays(holiday_paths)
    theirs = pandas_market_calendars_closes()
    assert 490 <= len(theirs) <= 520, "the calendar should hold about 250 sessions a year"

    problems: list[str] = []
    weekend = sorted(d for d in holidays if d.weekday() >= 5)
    if weekend:
        problems.append(f"holidays on a weekend, never traded anyway: {weekend}")
    found = disagreements(holidays)
    for day, what in sorted(found.items()):
        if day not in KNOWN_DISAGREEMENTS:
            problems.append(f"{day} ({day:%a}): {what}")
    for day, reason in sorted(KNOWN_DISAGREEMENTS.items()):
        if day not in found:
            problems.append(f"{day}: listed in KNOWN_DISAGREEMENTS ({reason}) but now agrees")
    assert not problems, "holiday tables vs CME Globex Equity:\n" + "\n".join(problems)


def test_crosscheck_reports_every_kind_of_difference(holiday_paths: tuple[Path, ...]) -> None:
    """The comparison itself can fail: altered tables are caught, closure and close time."""
    holidays = shipped_holidays(holiday_paths)
    thanksgiving = dt.date(2026, 11, 26)
    christmas = dt.date(2026, 12, 25)
    good_friday = dt.date(2027, 3, 26)
    ordinary = dt.date(2026, 6, 10)
    altered = dict(holidays)
    del altered[christmas]  # we would trade a closed day
    altered[thanksgiving] = holidays[thanksgiving].model_copy(update={"close": "12:15"})
    altered[good_friday] = holidays[good_friday].model_copy(
        update={"kind": "closed", "close": None}
    )
    altered[ordinary] = HolidaySpec(date=ordinary, kind="closed", name="made up", note="test")
    assert disagreements(altered) == {
        thanksgiving: "ours 12:15:00, pandas_market_calendars 12:00:00",
        christmas: "ours 16:00:00, pandas_market_calendars closed",
        good_friday: "ours closed, pandas_market_calendars 08:15:00",
        ordinary: "ours closed, pandas_market_calendars 16:00:00",
    }
