"""The schedule engine: a weekly template and holiday tables in, states and transitions out.

Pure: every function takes the instant it answers for; nothing reads the clock or the disk.

A schedule week runs from Sunday 00:00 to the next Sunday 00:00 in the template's zone, and
starts and ends with everything off (feed handler off, order entry down, market CLOSED, no
maintenance). Each week is planned once (:class:`WeekPlan`) from the template and the
holidays that fall in it:

* an early close on trade date D moves the close of D's session; clock events stay put;
* a full closure of D removes D's session, so its pre-open and open (the evening before) do
  not happen and the market stays CLOSED until the next session's pre-open;
* when the last sessions of the week are closed, the events anchored to ``week_end`` move back
  by as many days, to the last trading day, and clock events and windows that would start at
  or after that end are dropped.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from ncctl.schedule.weektime import EVENT_RANK, parse_clock, split_week_time

if TYPE_CHECKING:
    from ncctl.schedule.files import HolidayTable, WeeklyTemplate

MarketState = Literal["CLOSED", "PRE_OPEN", "OPEN"]

_MARKET_AFTER: dict[str, MarketState] = {
    "market.closed": "CLOSED",
    "market.pre_open": "PRE_OPEN",
    "market.open": "OPEN",
}


@dataclass(frozen=True, slots=True)
class Transition:
    """One scheduled event at an instant (aware, in the schedule's zone)."""

    at: dt.datetime
    event: str

    @property
    def sort_key(self) -> tuple[float, int]:
        return (self.at.timestamp(), EVENT_RANK[self.event])


@dataclass(frozen=True, slots=True)
class Switches:
    """The scheduled state of everything the schedule drives."""

    market_state: MarketState = "CLOSED"
    feed_handler: bool = False
    order_entry: bool = False
    maintenance: bool = False

    @property
    def l3_loop(self) -> bool:
        """The L3 snapshot loop runs while the feed handler is on and the market is CLOSED."""
        return self.feed_handler and self.market_state == "CLOSED"

    def after(self, event: str) -> Switches:
        """The state once ``event`` has happened."""
        market = _MARKET_AFTER.get(event)
        if market is not None:
            return Switches(market, self.feed_handler, self.order_entry, self.maintenance)
        if event in ("feed_handler.on", "feed_handler.off"):
            on = event == "feed_handler.on"
            return Switches(self.market_state, on, self.order_entry, self.maintenance)
        if event in ("order_entry.up", "order_entry.down"):
            up = event == "order_entry.up"
            return Switches(self.market_state, self.feed_handler, up, self.maintenance)
        if event in ("maintenance.start", "maintenance.end"):
            inside = event == "maintenance.start"
            return Switches(self.market_state, self.feed_handler, self.order_entry, inside)
        return self


ALL_OFF = Switches()


@dataclass(frozen=True, slots=True)
class Holiday:
    """A full closure or an early close of one trade date."""

    date: dt.date
    kind: Literal["closed", "early_close"]
    close: str | None
    name: str
    note: str

    @property
    def close_time(self) -> dt.time | None:
        return parse_clock(self.close) if self.close else None


Session = tuple[int, dt.time, int, dt.time, int, dt.time]
"""(pre-open day offset, time, open day offset, time, close day offset, time)."""
Event = tuple[int, dt.time, str, str]
"""(day offset, time, anchor, event name)."""
Window = tuple[list[int], dt.time, dt.time, list[str], list[str]]
"""(day offsets, start, end, events at start, events at end)."""


@dataclass(frozen=True)
class CompiledTemplate:
    """A weekly template reduced to day offsets and times: what the engine works from."""

    name: str
    tz: str
    sessions: list[Session]
    week_end: tuple[int, dt.time]
    events: list[Event]
    windows: list[Window]

    @classmethod
    def from_template(cls, template: WeeklyTemplate) -> CompiledTemplate:
        return cls(
            name=template.name,
            tz=template.tz,
            sessions=[
                (
                    *split_week_time(s.pre_open),
                    *split_week_time(s.open),
                    *split_week_time(s.close),
                )
                for s in template.sessions
            ],
            week_end=split_week_time(template.week.end),
            events=[(*split_week_time(e.at), e.anchor, e.event) for e in template.events],
            windows=[
                (
                    [split_week_time(f"{d} 00:00")[0] for d in w.days],
                    parse_clock(w.start),
                    parse_clock(w.end),
                    list(w.on_start),
                    list(w.on_end),
                )
                for w in template.windows
            ],
        )

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data, read back by :meth:`from_data`."""

        def hm(t: dt.time) -> str:
            return t.strftime("%H:%M")

        return {
            "name": self.name,
            "tz": self.tz,
            "sessions": [[a, hm(b), c, hm(d), e, hm(f)] for a, b, c, d, e, f in self.sessions],
            "week_end": [self.week_end[0], hm(self.week_end[1])],
            "events": [[o, hm(t), anchor, name] for o, t, anchor, name in self.events],
            "windows": [[o, hm(a), hm(b), s, e] for o, a, b, s, e in self.windows],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CompiledTemplate:
        p = parse_clock
        return cls(
            name=str(data["name"]),
            tz=str(data["tz"]),
            sessions=[(a, p(b), c, p(d), e, p(f)) for a, b, c, d, e, f in data["sessions"]],
            week_end=(int(data["week_end"][0]), p(data["week_end"][1])),
            events=[(int(o), p(t), str(a), str(n)) for o, t, a, n in data["events"]],
            windows=[(list(o), p(a), p(b), list(s), list(e)) for o, a, b, s, e in data["windows"]],
        )


@dataclass(frozen=True, slots=True)
class ScheduleSnapshot:
    """The scheduled state at one instant, with the holiday of its trade date if any."""

    at: dt.datetime
    switches: Switches
    holiday: Holiday | None
    trade_date: dt.date

    @property
    def market_state(self) -> MarketState:
        return self.switches.market_state

    @property
    def feed_handler(self) -> bool:
        return self.switches.feed_handler

    @property
    def order_entry(self) -> bool:
        return self.switches.order_entry

    @property
    def maintenance(self) -> bool:
        return self.switches.maintenance

    @property
    def l3_loop(self) -> bool:
        return self.switches.l3_loop


@dataclass(slots=True)
class WeekPlan:
    """The transitions of one schedule week, their POSIX instants and the state after each."""

    sunday: dt.date
    transitions: list[Transition]
    stamps: list[float]
    states: list[Switches] = field(default_factory=list)

    def __post_init__(self) -> None:
        state = ALL_OFF
        for tr in self.transitions:
            state = state.after(tr.event)
            self.states.append(state)

    def state_at(self, stamp: float) -> Switches:
        """State at a POSIX instant inside this week (events at the instant included)."""
        i = bisect.bisect_right(self.stamps, stamp)
        return self.states[i - 1] if i else ALL_OFF


class HolidayCalendar:
    """Holidays by date, and the years the tables cover."""

    def __init__(self, tables: Iterable[HolidayTable] = ()) -> None:
        self.by_date: dict[dt.date, Holiday] = {}
        self.years: set[int] = set()
        for table in tables:
            self.add_year(
                table.year,
                (Holiday(h.date, h.kind, h.close, h.name, h.note) for h in table.holidays),
            )

    def add_year(self, year: int, holidays: Iterable[Holiday]) -> None:
        if year in self.years:
            raise ValueError(f"two holiday tables cover {year}")
        self.years.add(year)
        for h in holidays:
            self.by_date[h.date] = h

    def get(self, day: dt.date) -> Holiday | None:
        return self.by_date.get(day)

    def covers(self, year: int) -> bool:
        return year in self.years

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data, read back by :meth:`from_data`."""
        return {
            "years": sorted(self.years),
            "days": [
                [h.date.isoformat(), h.kind, h.close, h.name, h.note]
                for h in sorted(self.by_date.values(), key=lambda h: h.date)
            ],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> HolidayCalendar:
        cal = cls()
        cal.years = {int(y) for y in data["years"]}
        for day, kind, close, name, note in data["days"]:
            cal.by_date[dt.date.fromisoformat(day)] = Holiday(
                dt.date.fromisoformat(day), kind, close, name, note
            )
        return cal


def _sunday_of(day: dt.date) -> dt.date:
    """The Sunday that starts the schedule week holding ``day``."""
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


class ScheduleEngine:
    """Answers what the schedule says at an instant and what happens between two instants."""

    def __init__(
        self,
        template: WeeklyTemplate | CompiledTemplate,
        holidays: HolidayCalendar | None = None,
    ) -> None:
        if not isinstance(template, CompiledTemplate):
            template = CompiledTemplate.from_template(template)
        self.template = template
        self.holidays = holidays or HolidayCalendar()
        self.zone = ZoneInfo(template.tz)
        self._weeks: dict[dt.date, WeekPlan] = {}
        self._sessions = template.sessions
        self._last_trade_offset = max(s[4] for s in self._sessions)
        self._week_end = template.week_end
        self._events = template.events
        self._windows = template.windows

    # -- planning -------------------------------------------------------------------------

    def week(self, sunday: dt.date) -> WeekPlan:
        """The plan of the week starting on ``sunday`` (cached)."""
        plan = self._weeks.get(sunday)
        if plan is None:
            plan = self._plan_week(sunday)
            self._weeks[sunday] = plan
        return plan

    def _plan_week(self, sunday: dt.date) -> WeekPlan:
        zone = self.zone
        days = [sunday + dt.timedelta(days=i) for i in range(-7, 14)]
        combine = dt.datetime.combine

        def local(offset: int, clock: dt.time) -> dt.datetime:
            return combine(days[offset + 7], clock, tzinfo=zone)

        out: list[tuple[float, int, Transition]] = []

        def add(at: dt.datetime, event: str) -> None:
            out.append((at.timestamp(), EVENT_RANK[event], Transition(at, event)))

        last_trade: int | None = None
        for pre_off, pre_clock, open_off, open_clock, close_off, usual_close in self._sessions:
            close_clock = usual_close
            holiday = self.holidays.get(days[close_off + 7])
            if holiday is not None:
                if holiday.kind == "closed":
                    continue
                close_clock = holiday.close_time or usual_close
            add(local(pre_off, pre_clock), "market.pre_open")
            add(local(open_off, open_clock), "market.open")
            add(local(close_off, close_clock), "market.closed")
            last_trade = close_off if last_trade is None else max(last_trade, close_off)
        if last_trade is None:
            return WeekPlan(sunday, [], [], [])  # no trading day at all: nothing runs
        shift = self._last_trade_offset - last_trade
        week_end = local(self._week_end[0] - shift, self._week_end[1])
        for off, clock, anchor, event in self._events:
            if anchor == "week_end":
                add(local(off - shift, clock), event)
                continue
            at = local(off, clock)
            if at < week_end:
                add(at, event)
        for offsets, start_clock, end_clock, on_start, on_end in self._windows:
            for off in offsets:
                start = local(off, start_clock)
                if start >= week_end:
                    continue
                end = min(local(off, end_clock), week_end)
                for name in on_start:
                    add(start, name)
                for name in on_end:
                    add(end, name)
        out.sort(key=lambda item: (item[0], item[1]))
        return WeekPlan(sunday, [t for _, _, t in out], [s for s, _, _ in out])

    # -- queries --------------------------------------------------------------------------

    def _check(self, t: dt.datetime) -> dt.datetime:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError("the schedule engine needs an aware datetime")
        return t.astimezone(self.zone)

    def trade_date(self, t: dt.datetime) -> dt.date:
        """CME's trade date of an instant: it rolls to the next day at 17:00 local time, and a
        weekend belongs to the Monday after it."""
        local = self._check(t)
        day = local.date()
        if local.time() >= dt.time(17, 0):
            day += dt.timedelta(days=1)
        if day.weekday() >= 5:  # Saturday or Sunday
            day += dt.timedelta(days=7 - day.weekday())
        return day

    def state_at(self, t: dt.datetime) -> ScheduleSnapshot:
        """The scheduled state at ``t``; an event scheduled exactly at ``t`` has happened."""
        local = self._check(t)
        plan = self.week(_sunday_of(local.date()))
        trade_date = self.trade_date(local)
        return ScheduleSnapshot(
            at=local,
            switches=plan.state_at(t.timestamp()),
            holiday=self.holidays.get(trade_date),
            trade_date=trade_date,
        )

    def transitions(self, start: dt.datetime, end: dt.datetime) -> list[Transition]:
        """Every transition with ``start <= at < end``, in order."""
        lo, hi = self._check(start), self._check(end)
        if hi <= lo:
            return []
        t0, t1 = start.timestamp(), end.timestamp()
        out: list[Transition] = []
        sunday = _sunday_of(lo.date())
        last = _sunday_of(hi.date())
        while sunday <= last:
            plan = self.week(sunday)
            i = bisect.bisect_left(plan.stamps, t0)
            j = bisect.bisect_left(plan.stamps, t1)
            out.extend(plan.transitions[i:j])
            sunday += dt.timedelta(days=7)
        return out

    def next_transitions(
        self, t: dt.datetime, n: int, prefix: str = "", horizon_weeks: int = 106
    ) -> list[Transition]:
        """The next ``n`` transitions strictly after ``t`` (optionally whose event starts
        with ``prefix``), looking at most ``horizon_weeks`` ahead."""
        local = self._check(t)
        stamp = t.timestamp()
        out: list[Transition] = []
        if n <= 0:
            return out
        sunday = _sunday_of(local.date())
        for _ in range(horizon_weeks):
            plan = self.week(sunday)
            i = bisect.bisect_right(plan.stamps, stamp)
            for tr in plan.transitions[i:]:
                if tr.event.startswith(prefix):
                    out.append(tr)
                    if len(out) >= n:
                        return out
            sunday += dt.timedelta(days=7)
        return out

    def week_start(self, t: dt.datetime) -> dt.datetime:
        """Sunday 00:00 local time of the schedule week holding ``t``."""
        local = self._check(t)
        return dt.datetime.combine(_sunday_of(local.date()), dt.time(0), tzinfo=self.zone)

    def uncovered_years(self, years: Iterable[int]) -> list[int]:
        """Years among ``years`` that no holiday table covers."""
        return sorted({y for y in years if not self.holidays.covers(y)})

    def coverage_warnings(self, start: dt.datetime, end: dt.datetime) -> list[str]:
        """A warning per year between two instants that has no holiday table."""
        lo, hi = self._check(start), self._check(end)
        missing = self.uncovered_years(range(lo.year, hi.year + 1))
        return [
            f"no holiday table covers {y}: the weekly template alone is used for that year"
            for y in missing
        ]


def fold(events: Sequence[Transition], start: Switches = ALL_OFF) -> Switches:
    """The state after applying ``events`` in order to ``start``."""
    state = start
    for tr in events:
        state = state.after(tr.event)
    return state
