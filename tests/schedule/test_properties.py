"""Properties of the schedule engine over random instants, spans and holiday tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncctl.schedule import HolidayCalendar, ScheduleEngine, Switches, Transition
from ncctl.schedule.engine import fold
from ncctl.schedule.files import (
    EVENT_RANK,
    HolidaySpec,
    HolidayTable,
    WeeklyTemplate,
    load_holiday_table,
)

CHICAGO = ZoneInfo("America/Chicago")
UTC = dt.UTC
ONE_US = dt.timedelta(microseconds=1)
ALL_OFF = Switches()

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,  # leave no .hypothesis directory behind
    suppress_health_check=[HealthCheck.too_slow],
)

# Clock times at which the template or the holiday tables put events.
EVENT_CLOCKS = [
    dt.time(h, m)
    for h, m in [
        (8, 15),
        (12, 0),
        (12, 15),
        (15, 0),
        (15, 25),
        (15, 29),
        (16, 0),
        (16, 1),
        (16, 30),
        (16, 45),
        (17, 0),
    ]
]


@st.composite
def instants(draw: st.DrawFn) -> dt.datetime:
    """Aware instants in 2025-2029: anywhere (with microseconds, near DST switches, in CT or
    UTC), or exactly on / one microsecond or one second around an event's clock time."""
    if draw(st.booleans()):
        return draw(
            st.datetimes(
                min_value=dt.datetime(2025, 1, 1),
                max_value=dt.datetime(2029, 12, 31, 23, 59, 59),
                timezones=st.sampled_from([CHICAGO, UTC]),
            )
        )
    day = draw(st.dates(dt.date(2025, 1, 1), dt.date(2029, 12, 31)))
    clock = draw(st.sampled_from(EVENT_CLOCKS))
    nudge = draw(st.sampled_from([-1_000_000, -1, 0, 0, 0, 1]))
    at = dt.datetime.combine(day, clock, tzinfo=CHICAGO).astimezone(UTC)
    return at + dt.timedelta(microseconds=nudge)


def spans(max_days: int = 21) -> st.SearchStrategy[dt.timedelta]:
    return st.one_of(
        st.integers(0, max_days * 86_400 * 10**6).map(lambda us: dt.timedelta(microseconds=us)),
        st.integers(0, max_days * 24 * 60).map(lambda m: dt.timedelta(minutes=m)),
    )


def plus(t: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``t`` plus elapsed time (computed in UTC, so wall-clock arithmetic cannot interfere)."""
    return (t.astimezone(UTC) + delta).astimezone(t.tzinfo)


def ct(day: dt.date, clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=CHICAGO)


def check_ordered(trs: Sequence[Transition], start: dt.datetime, end: dt.datetime) -> None:
    keys = [(tr.at.astimezone(UTC), EVENT_RANK[tr.event]) for tr in trs]
    assert keys == sorted(keys), "not sorted by (instant, canonical rank)"
    pairs = [(tr.at.astimezone(UTC), tr.event) for tr in trs]
    assert len(set(pairs)) == len(pairs), "duplicate (at, event)"
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    for tr in trs:
        assert tr.at.tzinfo is not None
        assert lo <= tr.at.astimezone(UTC) < hi, f"{tr} outside [{start}, {end})"


def check_prefixes(trs: Sequence[Transition], start: Switches = ALL_OFF) -> Switches:
    """Apply events one at a time; no prefix may show order entry up with the feed off."""
    state = start
    for tr in trs:
        state = state.after(tr.event)
        assert not (state.order_entry and not state.feed_handler), (
            f"order entry up while feed handler off after {tr}"
        )
        assert state.l3_loop == (state.feed_handler and state.market_state == "CLOSED")
    return state


# -- the shipped schedule over random instants ---------------------------------------------


@PROPERTY
@given(start=instants(), span=spans())
def test_transitions_sorted_unique_and_in_range(
    engine: ScheduleEngine, start: dt.datetime, span: dt.timedelta
) -> None:
    end = plus(start, span)
    check_ordered(engine.transitions(start, end), start, end)


@PROPERTY
@given(t=instants())
def test_state_at_is_the_fold_of_the_week_so_far(engine: ScheduleEngine, t: dt.datetime) -> None:
    week_start = engine.week_start(t)
    local = week_start.astimezone(CHICAGO)
    assert local.weekday() == 6  # Sunday
    assert local.time() == dt.time(0)
    next_week = ct(local.date() + dt.timedelta(days=7), dt.time(0))
    assert week_start.astimezone(UTC) <= t.astimezone(UTC) < next_week.astimezone(UTC)
    expected = fold(engine.transitions(week_start, plus(t, ONE_US)))
    assert engine.state_at(t).switches == expected


@pytest.mark.slow
@PROPERTY
@given(start=instants(), span=spans())
def test_order_entry_never_up_while_feed_handler_off(
    engine: ScheduleEngine, start: dt.datetime, span: dt.timedelta
) -> None:
    end = plus(start, span)
    state = check_prefixes(engine.transitions(engine.week_start(start), end))
    # weeks start and end all off, so folding across week boundaries stays exact
    assert state == engine.state_at(plus(end, -ONE_US)).switches
    for t in (start, end):
        s = engine.state_at(t)
        assert not (s.order_entry and not s.feed_handler)


@PROPERTY
@given(t=instants())
def test_l3_loop_runs_exactly_while_feed_on_and_market_closed(
    engine: ScheduleEngine, t: dt.datetime
) -> None:
    s = engine.state_at(t)
    assert s.l3_loop == (s.feed_handler and s.market_state == "CLOSED")
    assert s.switches.l3_loop == s.l3_loop
    # and at every prefix of the week up to t
    check_prefixes(engine.transitions(engine.week_start(t), plus(t, ONE_US)))


PREFIXES = [
    "",
    "market.",
    "market.open",
    "order_entry.",
    "feed_handler.",
    "maintenance.",
    "rotation.",
    "rotation.weekly",
    "party_registration",
]


@PROPERTY
@given(t=instants(), n=st.integers(1, 12), prefix=st.sampled_from(PREFIXES))
def test_next_transitions_are_the_first_of_the_span_after(
    engine: ScheduleEngine, t: dt.datetime, n: int, prefix: str
) -> None:
    # every prefix above happens at least once a week, so 14 weeks hold at least 12
    far = plus(t, dt.timedelta(weeks=14))
    after = [tr for tr in engine.transitions(plus(t, ONE_US), far) if tr.event.startswith(prefix)]
    assert len(after) >= n
    got = engine.next_transitions(t, n, prefix=prefix)
    assert got == after[:n]
    assert all(tr.at.astimezone(UTC) > t.astimezone(UTC) for tr in got)


def test_next_zero_transitions_is_empty(engine: ScheduleEngine) -> None:
    # the first 0 of anything is nothing, whatever the prefix and wherever t falls
    for t in (
        dt.datetime(2026, 11, 2, 12, 0, tzinfo=CHICAGO),  # mid-week, next event the same day
        dt.datetime(2026, 12, 25, 12, 0, tzinfo=CHICAGO),  # Christmas, next event on Sunday
    ):
        assert engine.next_transitions(t, 0) == []
        assert engine.next_transitions(t, 0, prefix="market.") == []


@PROPERTY
@given(a=instants(), ab=spans(10), bc=spans(10))
def test_transitions_split_at_any_instant(
    engine: ScheduleEngine, a: dt.datetime, ab: dt.timedelta, bc: dt.timedelta
) -> None:
    b = plus(a, ab)
    c = plus(b, bc)
    assert engine.transitions(a, c) == engine.transitions(a, b) + engine.transitions(b, c)


@PROPERTY
@given(start=instants(), span=spans(3))
def test_empty_and_reversed_spans_have_no_transitions(
    engine: ScheduleEngine, start: dt.datetime, span: dt.timedelta
) -> None:
    assert engine.transitions(start, start) == []
    assert engine.transitions(plus(start, span), start) == []


# -- random holiday tables ------------------------------------------------------------------

FIRST_SUNDAY = dt.date(2025, 12, 28)
WEEKDAYS = (1, 2, 3, 4, 5)  # Mon..Fri as offsets from Sunday


@st.composite
def holiday_weeks(draw: st.DrawFn) -> tuple[dt.date, list[HolidaySpec]]:
    """A random week of 2026-2028 with random closures and early closes on its weekdays."""
    sunday = FIRST_SUNDAY + dt.timedelta(weeks=draw(st.integers(0, 3 * 52)))
    offsets = draw(st.lists(st.sampled_from(WEEKDAYS), unique=True, max_size=5))
    specs: list[HolidaySpec] = []
    for off in sorted(offsets):
        date = sunday + dt.timedelta(days=off)
        if draw(st.booleans()):
            specs.append(HolidaySpec(date=date, kind="closed", name="closure", note="generated"))
        else:
            hour = draw(st.integers(0, 15))
            minute = draw(st.integers(0, 59))
            specs.append(
                HolidaySpec(
                    date=date,
                    kind="early_close",
                    close=f"{hour:02d}:{minute:02d}",
                    name="early close",
                    note="generated",
                )
            )
    return sunday, specs


def calendar_of(specs: Sequence[HolidaySpec]) -> HolidayCalendar:
    by_year: dict[int, list[HolidaySpec]] = {}
    for h in specs:
        by_year.setdefault(h.date.year, []).append(h)
    tables = [
        HolidayTable(calendar="test", year=year, source="hypothesis", holidays=hs)
        for year, hs in by_year.items()
    ]
    return HolidayCalendar(tables)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, database=None)
@given(week=holiday_weeks())
def test_invariants_hold_with_random_holiday_tables(
    template: WeeklyTemplate, week: tuple[dt.date, list[HolidaySpec]]
) -> None:
    sunday, specs = week
    engine = ScheduleEngine(template, calendar_of(specs))
    start = ct(sunday, dt.time(0))
    end = ct(sunday + dt.timedelta(days=7), dt.time(0))

    # ordering, range and splitting around the week
    wide_start = ct(sunday - dt.timedelta(days=2), dt.time(12))
    wide_end = plus(end, dt.timedelta(days=2))
    wide = engine.transitions(wide_start, wide_end)
    check_ordered(wide, wide_start, wide_end)
    trs = engine.transitions(start, end)
    assert trs == [tr for tr in wide if start <= tr.at < end]

    # the week starts and ends with everything off; no prefix shows iLink up without feed
    assert check_prefixes(trs) == ALL_OFF
    assert engine.state_at(start).switches == ALL_OFF
    assert engine.state_at(plus(end, -ONE_US)).switches == ALL_OFF

    # state_at is the fold of the week so far, at, just before and just after every instant
    instants_ = sorted({tr.at.astimezone(UTC) for tr in trs})
    for at in instants_:
        for t in (plus(at, -ONE_US), at, plus(at, dt.timedelta(seconds=1))):
            s = engine.state_at(t)
            assert s.switches == fold(engine.transitions(start, plus(t, ONE_US)))
            assert s.l3_loop == (s.feed_handler and s.market_state == "CLOSED")
            assert not (s.order_entry and not s.feed_handler)
    # next_transitions agrees with transitions
    for at in instants_[:3]:
        assert (
            engine.next_transitions(at, 5)
            == engine.transitions(plus(at, ONE_US), plus(end, dt.timedelta(weeks=2)))[:5]
        )

    closed = {h.date for h in specs if h.kind == "closed"}
    early = {h.date: h.close_time for h in specs if h.kind == "early_close"}
    trading = [
        sunday + dt.timedelta(days=off)
        for off in WEEKDAYS
        if sunday + dt.timedelta(days=off) not in closed
    ]
    opens = {tr.at for tr in trs if tr.event == "market.open"}
    assert opens == {ct(d - dt.timedelta(days=1), dt.time(17)) for d in trading}

    for d in closed:
        # no session for a closed trade date: CLOSED from the evening before until its end
        for t in (
            ct(d - dt.timedelta(days=1), dt.time(17)),
            ct(d - dt.timedelta(days=1), dt.time(23, 30)),
            ct(d, dt.time(10)),
            ct(d, dt.time(15, 59, 59)),
        ):
            assert engine.state_at(t).market_state == "CLOSED", t
            assert engine.state_at(t).trade_date == d
            assert engine.state_at(t).holiday is not None

    for d, close in early.items():
        assert close is not None
        at = ct(d, close)
        assert engine.state_at(plus(at, -dt.timedelta(seconds=1))).market_state == "OPEN"
        assert engine.state_at(at).market_state == "CLOSED"
        assert Transition(at, "market.closed") in trs
        assert Transition(ct(d, dt.time(16)), "market.closed") not in trs

    if not trading:
        assert trs == []
        return

    # the week ends at the last trading day's clock close; weekly rotation one minute later
    last = trading[-1]
    week_end = ct(last, dt.time(16))
    for event in ("order_entry.down", "feed_handler.off"):
        assert Transition(week_end, event) in trs
    assert [tr.at for tr in trs if tr.event == "rotation.weekly"] == [ct(last, dt.time(16, 1))]
    assert [tr.at for tr in trs if tr.event == "feed_handler.off"] == [week_end]
    assert trs[-1] == Transition(ct(last, dt.time(16, 1)), "rotation.weekly")
    assert engine.state_at(week_end).switches == ALL_OFF
    assert engine.state_at(plus(week_end, -dt.timedelta(seconds=1))).feed_handler

    # the Sunday start does not move; clocks keep their times on every day before the end
    assert trs[0] == Transition(ct(sunday, dt.time(15)), "feed_handler.on")
    maintenance_days = [
        sunday + dt.timedelta(days=off)
        for off in (1, 2, 3, 4)
        if sunday + dt.timedelta(days=off) < last
    ]
    assert [tr.at for tr in trs if tr.event == "maintenance.start"] == [
        ct(d, dt.time(16, 1)) for d in maintenance_days
    ]
    for d in maintenance_days:
        assert engine.state_at(ct(d, dt.time(16, 15))).maintenance
        assert not engine.state_at(ct(d, dt.time(16, 15))).order_entry
        assert engine.state_at(ct(d, dt.time(16, 30))).order_entry

    # a fresh engine (cold cache) answers the same as this one
    fresh = ScheduleEngine(template, calendar_of(specs))
    probe = ct(last, dt.time(11))
    assert fresh.state_at(probe) == engine.state_at(probe)
    assert fresh.transitions(start, end) == trs


def test_order_within_an_instant_is_canonical_whatever_the_template_order(
    engine: ScheduleEngine, template: WeeklyTemplate, holiday_paths: tuple[Path, ...]
) -> None:
    """Listing sessions, events and window actions in another order changes nothing: events
    of one instant always come in EVENT_RANK order (switch off before switching on)."""
    reordered = template.model_copy(
        update={
            "sessions": template.sessions[::-1],
            "events": template.events[::-1],
            "windows": [
                w.model_copy(update={"on_start": w.on_start[::-1], "on_end": w.on_end[::-1]})
                for w in template.windows
            ],
        }
    )
    assert [e.event for e in reordered.events] != [e.event for e in template.events]
    calendar = HolidayCalendar(load_holiday_table(p) for p in holiday_paths)
    other = ScheduleEngine(reordered, calendar)
    start = ct(dt.date(2025, 12, 28), dt.time(0))
    end = ct(dt.date(2028, 1, 2), dt.time(0))
    got = other.transitions(start, end)
    check_ordered(got, start, end)
    assert got == engine.transitions(start, end)
    check_prefixes(got)
