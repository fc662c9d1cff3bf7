"""Holiday rules of docs/design.md §2.4 on the shipped 2026-2027 tables.

Early close on D at T: the market is CLOSED from T; feed handler, order entry and maintenance
stay on their clock times. Full closure of D: no session opens the evening before D; a closed
Friday ends the week at the previous day's close (feed handler off, order entry down), with the
end-of-week rotation one minute later.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ncctl.schedule import HolidayCalendar, ScheduleEngine
from ncctl.schedule.files import WeeklyTemplate

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC


def ct(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=CHICAGO)


def day_events(engine: ScheduleEngine, day: dt.date) -> list[tuple[str, str]]:
    """(local HH:MM, event) of every transition on a local calendar day."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=CHICAGO)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=CHICAGO)
    return [
        (f"{tr.at.astimezone(CHICAGO):%H:%M}", tr.event) for tr in engine.transitions(start, end)
    ]


def switches(engine: ScheduleEngine, t: dt.datetime) -> tuple[str, bool, bool, bool, bool]:
    """(market, feed handler, order entry, maintenance, L3 loop) at ``t``."""
    s = engine.state_at(t)
    return (s.market_state, s.feed_handler, s.order_entry, s.maintenance, s.l3_loop)


OPEN = ("OPEN", True, True, False, False)
PRE_OPEN = ("PRE_OPEN", True, True, False, False)
CLOSED_UP = ("CLOSED", True, True, False, True)
MAINTENANCE = ("CLOSED", True, False, True, True)
ALL_OFF = ("CLOSED", False, False, False, False)

NORMAL_MON_TO_THU = [
    ("16:00", "market.closed"),
    ("16:01", "maintenance.start"),
    ("16:01", "order_entry.down"),
    ("16:01", "rotation.daily"),
    ("16:30", "maintenance.end"),
    ("16:30", "order_entry.up"),
    ("16:45", "market.pre_open"),
    ("17:00", "market.open"),
]


# -- Thanksgiving 2026 ---------------------------------------------------------------------


def test_thanksgiving_thursday_events(engine: ScheduleEngine) -> None:
    assert day_events(engine, dt.date(2026, 11, 26)) == [
        ("12:00", "market.closed"),
        ("16:01", "maintenance.start"),
        ("16:01", "order_entry.down"),
        ("16:01", "rotation.daily"),
        ("16:30", "maintenance.end"),
        ("16:30", "order_entry.up"),
        ("16:45", "market.pre_open"),
        ("17:00", "market.open"),
    ]


def test_thanksgiving_friday_events(engine: ScheduleEngine) -> None:
    assert day_events(engine, dt.date(2026, 11, 27)) == [
        ("12:15", "market.closed"),
        ("16:00", "order_entry.down"),
        ("16:00", "feed_handler.off"),
        ("16:01", "rotation.weekly"),
    ]
    assert day_events(engine, dt.date(2026, 11, 28)) == []


def test_thanksgiving_wednesday_is_a_normal_day(engine: ScheduleEngine) -> None:
    assert day_events(engine, dt.date(2026, 11, 25)) == NORMAL_MON_TO_THU


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (ct(2026, 11, 26, 11, 59, 59), OPEN),
        (ct(2026, 11, 26, 12, 0), CLOSED_UP),  # early close; feed and iLink on clock
        (ct(2026, 11, 26, 15, 59, 59), CLOSED_UP),
        (ct(2026, 11, 26, 16, 0), CLOSED_UP),  # nothing new at the usual close
        (ct(2026, 11, 26, 16, 1), MAINTENANCE),  # maintenance on its clock time
        (ct(2026, 11, 26, 16, 30), CLOSED_UP),
        (ct(2026, 11, 26, 16, 45), PRE_OPEN),
        (ct(2026, 11, 26, 17, 0), OPEN),  # reopens for Friday
        (ct(2026, 11, 27, 12, 14, 59), OPEN),
        (ct(2026, 11, 27, 12, 15), CLOSED_UP),  # early close 12:15
        (ct(2026, 11, 27, 15, 59, 59), CLOSED_UP),
        (ct(2026, 11, 27, 16, 0), ALL_OFF),  # feed handler off, order entry down
        (ct(2026, 11, 27, 16, 1), ALL_OFF),
        (ct(2026, 11, 28, 12, 0), ALL_OFF),
    ],
    ids=lambda v: f"{v:%a-%H:%M:%S}" if isinstance(v, dt.datetime) else None,
)
def test_thanksgiving_states(
    engine: ScheduleEngine, t: dt.datetime, expected: tuple[str, bool, bool, bool, bool]
) -> None:
    assert switches(engine, t) == expected


def test_thanksgiving_weekly_rotation_is_next_after_friday_close(engine: ScheduleEngine) -> None:
    nxt = engine.next_transitions(ct(2026, 11, 27, 16, 0), 1, prefix="rotation.")
    assert [(tr.at, tr.event) for tr in nxt] == [(ct(2026, 11, 27, 16, 1), "rotation.weekly")]


# -- Christmas 2026 ------------------------------------------------------------------------


def test_christmas_eve_ends_the_week_on_thursday(engine: ScheduleEngine) -> None:
    assert day_events(engine, dt.date(2026, 12, 24)) == [
        ("12:15", "market.closed"),
        ("16:00", "order_entry.down"),
        ("16:00", "feed_handler.off"),
        ("16:01", "rotation.weekly"),
    ]


def test_christmas_day_and_weekend_have_no_events(engine: ScheduleEngine) -> None:
    start = ct(2026, 12, 24, 16, 2)
    assert engine.transitions(start, ct(2026, 12, 27, 0, 0)) == []
    nxt = engine.next_transitions(ct(2026, 12, 24, 16, 1), 1)
    assert [(tr.at, tr.event) for tr in nxt] == [(ct(2026, 12, 27, 15, 0), "feed_handler.on")]


def test_christmas_week_has_no_thursday_maintenance_or_daily_rotation(
    engine: ScheduleEngine,
) -> None:
    week = engine.transitions(ct(2026, 12, 20), ct(2026, 12, 27))
    daily = [tr.at.date() for tr in week if tr.event == "rotation.daily"]
    assert daily == [dt.date(2026, 12, 21), dt.date(2026, 12, 22), dt.date(2026, 12, 23)]
    maintenance = [tr.at.date() for tr in week if tr.event == "maintenance.start"]
    assert maintenance == daily
    opens = [tr.at for tr in week if tr.event == "market.open"]
    assert opens == [ct(2026, 12, d, 17, 0) for d in (20, 21, 22, 23)]
    weekly = [tr.at for tr in week if tr.event == "rotation.weekly"]
    assert weekly == [ct(2026, 12, 24, 16, 1)]


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (ct(2026, 12, 24, 12, 14, 59), OPEN),
        (ct(2026, 12, 24, 12, 15), CLOSED_UP),
        (ct(2026, 12, 24, 15, 59, 59), CLOSED_UP),
        (ct(2026, 12, 24, 16, 0), ALL_OFF),
        (ct(2026, 12, 24, 16, 1), ALL_OFF),  # no maintenance window
        (ct(2026, 12, 24, 16, 45), ALL_OFF),  # no pre-open
        (ct(2026, 12, 24, 17, 0), ALL_OFF),  # no open
        (ct(2026, 12, 25, 10, 0), ALL_OFF),
        (ct(2026, 12, 25, 16, 0), ALL_OFF),
    ],
    ids=lambda v: f"{v:%a-%H:%M:%S}" if isinstance(v, dt.datetime) else None,
)
def test_christmas_states(
    engine: ScheduleEngine, t: dt.datetime, expected: tuple[str, bool, bool, bool, bool]
) -> None:
    assert switches(engine, t) == expected


# -- New Year 2027 -------------------------------------------------------------------------


def test_new_year_eve_ends_the_week_on_thursday(engine: ScheduleEngine) -> None:
    assert day_events(engine, dt.date(2026, 12, 31)) == [
        ("16:00", "market.closed"),
        ("16:00", "order_entry.down"),
        ("16:00", "feed_handler.off"),
        ("16:01", "rotation.weekly"),
    ]
    assert day_events(engine, dt.date(2027, 1, 1)) == []
    assert engine.transitions(ct(2026, 12, 31, 16, 2), ct(2027, 1, 3)) == []
    assert switches(engine, ct(2026, 12, 31, 15, 59, 59)) == OPEN
    assert switches(engine, ct(2026, 12, 31, 16, 0)) == ALL_OFF
    assert switches(engine, ct(2026, 12, 31, 17, 0)) == ALL_OFF
    assert switches(engine, ct(2027, 1, 1, 10, 0)) == ALL_OFF


def test_new_year_week_before_thursday_is_normal(engine: ScheduleEngine) -> None:
    for d in (28, 29, 30):
        assert day_events(engine, dt.date(2026, 12, d)) == NORMAL_MON_TO_THU


def test_week_after_new_year_starts_normally(engine: ScheduleEngine) -> None:
    assert day_events(engine, dt.date(2027, 1, 3)) == [
        ("15:00", "feed_handler.on"),
        ("15:25", "party_registration"),
        ("15:29", "order_entry.up"),
        ("16:00", "market.pre_open"),
        ("17:00", "market.open"),
    ]


# -- the holiday of the trade date, rolling at 17:00 ---------------------------------------
# CME's trade date rolls to the next day at 17:00 local time; Saturday and Sunday belong to
# the Monday after them (the Sunday evening session trades Monday's date).


@pytest.mark.parametrize(
    ("t", "trade_date", "holiday"),
    [
        (ct(2026, 11, 25, 16, 59, 59), dt.date(2026, 11, 25), None),
        (ct(2026, 11, 25, 17, 0), dt.date(2026, 11, 26), "Thanksgiving Day"),
        (ct(2026, 11, 26, 10, 0), dt.date(2026, 11, 26), "Thanksgiving Day"),
        (ct(2026, 11, 26, 16, 59, 59), dt.date(2026, 11, 26), "Thanksgiving Day"),
        (ct(2026, 11, 26, 17, 0), dt.date(2026, 11, 27), "Day after Thanksgiving"),
        (ct(2026, 11, 27, 16, 59, 59), dt.date(2026, 11, 27), "Day after Thanksgiving"),
        # after Friday's roll the weekend belongs to the Monday after it
        (ct(2026, 11, 27, 17, 0), dt.date(2026, 11, 30), None),
        (ct(2026, 11, 28, 12, 0), dt.date(2026, 11, 30), None),
        (ct(2026, 11, 29, 16, 59, 59), dt.date(2026, 11, 30), None),
        (ct(2026, 11, 29, 17, 0), dt.date(2026, 11, 30), None),
        (ct(2026, 11, 30, 16, 59, 59), dt.date(2026, 11, 30), None),
        (ct(2026, 11, 30, 17, 0), dt.date(2026, 12, 1), None),
        # a Monday holiday is the trade date of the weekend before it
        (ct(2026, 1, 16, 16, 59, 59), dt.date(2026, 1, 16), None),
        (ct(2026, 1, 16, 17, 0), dt.date(2026, 1, 19), "Martin Luther King Jr. Day"),
        (ct(2026, 1, 18, 10, 0), dt.date(2026, 1, 19), "Martin Luther King Jr. Day"),
        (ct(2026, 12, 24, 16, 59, 59), dt.date(2026, 12, 24), "Christmas Eve"),
        (ct(2026, 12, 24, 17, 0), dt.date(2026, 12, 25), "Christmas Day"),
        (ct(2026, 12, 31, 17, 0), dt.date(2027, 1, 1), "New Year's Day"),
        (ct(2027, 1, 1, 16, 59, 59), dt.date(2027, 1, 1), "New Year's Day"),
        (ct(2027, 1, 1, 17, 0), dt.date(2027, 1, 4), None),
    ],
    ids=lambda v: f"{v:%Y-%m-%dT%H:%M:%S}" if isinstance(v, dt.datetime) else None,
)
def test_holiday_of_trade_date(
    engine: ScheduleEngine, t: dt.datetime, trade_date: dt.date, holiday: str | None
) -> None:
    for given in (t, t.astimezone(UTC)):
        state = engine.state_at(given)
        assert state.trade_date == trade_date
        assert engine.trade_date(given) == trade_date
        assert (state.holiday.name if state.holiday else None) == holiday


def test_holiday_kinds_are_reported(engine: ScheduleEngine) -> None:
    christmas = engine.state_at(ct(2026, 12, 25, 9, 0)).holiday
    assert christmas is not None
    assert christmas.kind == "closed"
    assert christmas.close_time is None
    thanksgiving = engine.state_at(ct(2026, 11, 26, 9, 0)).holiday
    assert thanksgiving is not None
    assert thanksgiving.kind == "early_close"
    assert thanksgiving.close_time == dt.time(12, 0)


# -- coverage -------------------------------------------------------------------------------


def test_covered_years_give_no_warning(engine: ScheduleEngine) -> None:
    assert engine.coverage_warnings(ct(2026, 1, 1), ct(2027, 12, 31, 23, 59)) == []
    assert engine.coverage_warnings(ct(2026, 11, 26), ct(2026, 11, 27)) == []


def test_uncovered_year_warns(engine: ScheduleEngine) -> None:
    warnings = engine.coverage_warnings(ct(2029, 11, 1), ct(2029, 12, 31))
    assert len(warnings) == 1
    assert "2029" in warnings[0]
    spanning = engine.coverage_warnings(ct(2027, 12, 20), ct(2028, 1, 10))
    assert len(spanning) == 1
    assert "2028" in spanning[0]
    assert "2027" not in spanning[0]


def test_uncovered_year_gives_the_plain_template(
    engine: ScheduleEngine, template: WeeklyTemplate
) -> None:
    plain = ScheduleEngine(template, HolidayCalendar())
    # Thanksgiving and Christmas weeks of 2029, and New Year 2029/2030
    for start, end in (
        (ct(2029, 11, 18), ct(2029, 11, 25)),
        (ct(2029, 12, 23), ct(2030, 1, 6)),
    ):
        got = engine.transitions(start, end)
        assert got == plain.transitions(start, end)
        assert len(got) == 41 * ((end - start).days // 7)
    # Thanksgiving 2029 (Thu 2029-11-22) is a normal Thursday without a table
    assert day_events(engine, dt.date(2029, 11, 22)) == NORMAL_MON_TO_THU
    assert switches(engine, ct(2029, 11, 22, 12, 30)) == OPEN
    assert switches(engine, ct(2029, 12, 25, 10, 0)) == OPEN  # Christmas, a Tuesday
    assert engine.state_at(ct(2029, 12, 25, 10, 0)).holiday is None
