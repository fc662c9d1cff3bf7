"""Every row of docs/design.md §2.1's weekly table, in a CST week and in a CDT week.

The expected values are written here from the DESIGN table, not derived from the engine.
All instants are built in America/Chicago wall-clock time with zoneinfo.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest

from ncctl.schedule import ScheduleEngine

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC
DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")

# Week starting Sunday 2026-11-01: DST ended at 02:00 that Sunday, the whole week is CST.
CST_SUNDAY = dt.date(2026, 11, 1)
# Week starting Sunday 2026-03-08: DST started at 02:00 that Sunday, the whole week is CDT.
CDT_SUNDAY = dt.date(2026, 3, 8)
WEEKS = {"CST week 2026-11-01": CST_SUNDAY, "CDT week 2026-03-08": CDT_SUNDAY}


class Expect(NamedTuple):
    market_state: str
    feed_handler: bool
    order_entry: bool
    maintenance: bool
    l3_loop: bool


# The states DESIGN section 2 names, as (market, feed handler, order entry, maintenance, L3 loop).
ALL_OFF = Expect("CLOSED", False, False, False, False)
FEED_ONLY = Expect("CLOSED", True, False, False, True)  # feed on, L3 loop runs, no iLink yet
CLOSED_UP = Expect("CLOSED", True, True, False, True)  # iLink up while CLOSED: client L3 sync
PRE_OPEN = Expect("PRE_OPEN", True, True, False, False)  # L3 loop off
OPEN = Expect("OPEN", True, True, False, False)
MAINTENANCE = Expect("CLOSED", True, False, True, True)  # 16:01-16:29: order entry down


class Row(NamedTuple):
    day: str
    clock: str
    events: tuple[str, ...]  # in canonical order for one instant
    before: Expect  # one second before the instant
    at: Expect  # at the instant (its events have happened)


def _daily_rows(day: str) -> list[Row]:
    return [
        # Mon-Thu 16:00 market CLOSED (daily halt; L3 loop on)
        Row(day, "16:00", ("market.closed",), OPEN, CLOSED_UP),
        # Mon-Thu 16:01-16:29 maintenance window: order entry down; daily rotation + upload
        Row(
            day,
            "16:01",
            ("maintenance.start", "order_entry.down", "rotation.daily"),
            CLOSED_UP,
            MAINTENANCE,
        ),
        # Mon-Thu 16:30 order entry up; 16:30-16:44 client L3 sync
        Row(day, "16:30", ("maintenance.end", "order_entry.up"), MAINTENANCE, CLOSED_UP),
        # Mon-Thu 16:45 market PRE_OPEN (L3 loop off)
        Row(day, "16:45", ("market.pre_open",), CLOSED_UP, PRE_OPEN),
        # Sun-Thu 17:00 market OPEN
        Row(day, "17:00", ("market.open",), PRE_OPEN, OPEN),
    ]


ROWS: list[Row] = [
    # Sun 15:00 feed handler on (L3 snapshot loop runs: market CLOSED)
    Row("Sun", "15:00", ("feed_handler.on",), ALL_OFF, FEED_ONLY),
    # Sun 15:25 weekly party-ID pre-registration
    Row("Sun", "15:25", ("party_registration",), FEED_ONLY, FEED_ONLY),
    # Sun 15:29 order entry (iLink session) up; 15:30-15:59 client L3 sync
    Row("Sun", "15:29", ("order_entry.up",), FEED_ONLY, CLOSED_UP),
    # Sun 16:00 market PRE_OPEN (L3 loop off)
    Row("Sun", "16:00", ("market.pre_open",), CLOSED_UP, PRE_OPEN),
    # Sun-Thu 17:00 market OPEN
    Row("Sun", "17:00", ("market.open",), PRE_OPEN, OPEN),
    *_daily_rows("Mon"),
    *_daily_rows("Tue"),
    *_daily_rows("Wed"),
    *_daily_rows("Thu"),
    # Fri 16:00 market CLOSED; feed handler off; order entry down; week ends
    Row("Fri", "16:00", ("market.closed", "order_entry.down", "feed_handler.off"), OPEN, ALL_OFF),
    # Fri 16:01 end-of-week rotation + upload
    Row("Fri", "16:01", ("rotation.weekly",), ALL_OFF, ALL_OFF),
]

# Instants between transitions, from the same table.
PROBES: list[tuple[str, str, Expect]] = [
    ("Sun", "00:00:00", ALL_OFF),
    ("Sun", "02:30:00", ALL_OFF),  # inside the DST gap (CDT week) or the repeated hour (CST)
    ("Sun", "15:30:00", CLOSED_UP),  # client L3 sync
    ("Sun", "15:59:59", CLOSED_UP),
    ("Mon", "03:00:00", OPEN),
    ("Mon", "16:15:00", MAINTENANCE),
    ("Mon", "16:29:59", MAINTENANCE),
    ("Tue", "16:44:59", CLOSED_UP),  # client L3 sync until pre-open
    ("Wed", "23:59:59", OPEN),
    ("Thu", "12:00:00", OPEN),
    ("Fri", "15:59:59", OPEN),
    ("Fri", "16:30:00", ALL_OFF),
    ("Sat", "12:00:00", ALL_OFF),
    ("Sat", "23:59:59", ALL_OFF),
]


def _local(sunday: dt.date, day: str, clock: str) -> dt.datetime:
    date = sunday + dt.timedelta(days=DAYS.index(day))
    return dt.datetime.combine(date, dt.time.fromisoformat(clock), tzinfo=CHICAGO)


def _observed(engine: ScheduleEngine, t: dt.datetime) -> Expect:
    s = engine.state_at(t)
    return Expect(s.market_state, s.feed_handler, s.order_entry, s.maintenance, s.l3_loop)


def _row_id(row: Row) -> str:
    return f"{row.day}-{row.clock}"


@pytest.mark.parametrize("sunday", WEEKS.values(), ids=WEEKS.keys())
@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_state_at_transition_instant(engine: ScheduleEngine, sunday: dt.date, row: Row) -> None:
    at = _local(sunday, row.day, row.clock)
    assert _observed(engine, at) == row.at
    # the same instant given in UTC answers the same
    assert _observed(engine, at.astimezone(UTC)) == row.at


@pytest.mark.parametrize("sunday", WEEKS.values(), ids=WEEKS.keys())
@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_state_one_second_before_transition(
    engine: ScheduleEngine, sunday: dt.date, row: Row
) -> None:
    # subtract the second in UTC: exact elapsed time, whatever the zone does
    before = (
        _local(sunday, row.day, row.clock).astimezone(UTC) - dt.timedelta(seconds=1)
    ).astimezone(CHICAGO)
    assert _observed(engine, before) == row.before


@pytest.mark.parametrize("sunday", WEEKS.values(), ids=WEEKS.keys())
@pytest.mark.parametrize(
    ("day", "clock", "expected"), PROBES, ids=[f"{d}-{c}" for d, c, _ in PROBES]
)
def test_state_between_transitions(
    engine: ScheduleEngine, sunday: dt.date, day: str, clock: str, expected: Expect
) -> None:
    assert _observed(engine, _local(sunday, day, clock)) == expected


@pytest.mark.parametrize("sunday", WEEKS.values(), ids=WEEKS.keys())
def test_exact_events_of_the_week(engine: ScheduleEngine, sunday: dt.date) -> None:
    start = dt.datetime.combine(sunday, dt.time(0), tzinfo=CHICAGO)
    end = dt.datetime.combine(sunday + dt.timedelta(days=7), dt.time(0), tzinfo=CHICAGO)
    expected = [
        (f"{row.day} {_local(sunday, row.day, row.clock):%Y-%m-%d %H:%M}", event)
        for row in ROWS
        for event in row.events
    ]
    got = [
        (f"{tr.at.astimezone(CHICAGO):%a %Y-%m-%d %H:%M}", tr.event)
        for tr in engine.transitions(start, end)
    ]
    assert got == expected
    # and the instants themselves are the Chicago wall-clock ones
    instants = [tr.at for tr in engine.transitions(start, end)]
    assert instants == [_local(sunday, row.day, row.clock) for row in ROWS for _ in row.events]


def test_utc_offsets_differ_by_one_hour_between_the_weeks(engine: ScheduleEngine) -> None:
    offsets: dict[dt.date, set[dt.timedelta | None]] = {}
    for sunday in (CST_SUNDAY, CDT_SUNDAY):
        start = dt.datetime.combine(sunday, dt.time(15, 0), tzinfo=CHICAGO)
        trs = engine.transitions(start, start + dt.timedelta(days=6))
        assert len(trs) == sum(len(row.events) for row in ROWS)
        offsets[sunday] = {tr.at.astimezone(CHICAGO).utcoffset() for tr in trs}
    assert offsets[CST_SUNDAY] == {dt.timedelta(hours=-6)}
    assert offsets[CDT_SUNDAY] == {dt.timedelta(hours=-5)}

    # Sun 15:00 feed handler on is 21:00 UTC in CST and 20:00 UTC in CDT
    feed_on = {
        sunday: engine.next_transitions(
            dt.datetime.combine(sunday, dt.time(0), tzinfo=CHICAGO), 1, prefix="feed_handler.on"
        )[0].at.astimezone(UTC)
        for sunday in (CST_SUNDAY, CDT_SUNDAY)
    }
    assert feed_on[CST_SUNDAY] == dt.datetime(2026, 11, 1, 21, 0, tzinfo=UTC)
    assert feed_on[CDT_SUNDAY] == dt.datetime(2026, 3, 8, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize("sunday", WEEKS.values(), ids=WEEKS.keys())
def test_week_start_is_sunday_midnight_before_the_dst_switch(
    engine: ScheduleEngine, sunday: dt.date
) -> None:
    midnight = dt.datetime.combine(sunday, dt.time(0), tzinfo=CHICAGO)
    for day in DAYS:
        t = _local(sunday, day, "16:00")
        assert engine.week_start(t) == midnight
        assert engine.week_start(t.astimezone(UTC)) == midnight
    # Sunday 00:00 is on the far side of that Sunday's DST switch
    offset_at_midnight = midnight.utcoffset()
    offset_at_feed_on = _local(sunday, "Sun", "15:00").utcoffset()
    assert offset_at_midnight is not None and offset_at_feed_on is not None
    assert abs(offset_at_midnight - offset_at_feed_on) == dt.timedelta(hours=1)
    # one microsecond before Sunday 00:00 belongs to the previous week
    just_before = midnight.astimezone(UTC) - dt.timedelta(microseconds=1)
    assert engine.week_start(just_before) == midnight - dt.timedelta(days=7)
