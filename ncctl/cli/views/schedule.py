"""Views of ``ncctl schedule``: the state at an instant, events by day, checked files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.schedule import ScheduleEngine


@dataclass(frozen=True)
class ScheduleNow:
    state: dict[str, Any]
    """The state at the instant and the next events (``schedule.views.state_view``)."""
    zone: ZoneInfo
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScheduleSpan:
    """The events and days of a span (``schedule show``)."""

    start: dt.datetime
    end: dt.datetime
    events: list[dict[str, str]]
    days: list[dict[str, Any]]
    zone: ZoneInfo
    engine: ScheduleEngine
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScheduleNext:
    """The next events after an instant (``schedule next``)."""

    at: dt.datetime
    events: list[dict[str, str]]
    zone: ZoneInfo
    engine: ScheduleEngine
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScheduleCheck:
    files: list[dict[str, Any]]


def _onoff(flag: bool, yes: str, no: str) -> str:
    return f"[green]{yes}[/green]" if flag else f"[dim]{no}[/dim]"


def holiday_text(h: dict[str, Any]) -> str:
    """A holiday by name: ``closed: Christmas Day (note)``, ``early close 12:15: … (note)``."""
    what = "closed" if h["kind"] == "closed" else f"early close {h['close']}"
    return f"{what}: {h['name']}" + (f" ({h['note']})" if h["note"] else "")


def state_text(data: dict[str, Any], zone: ZoneInfo, console: Console) -> None:
    """The scheduled state at an instant, then the next events."""
    from rich.table import Table

    from ncctl.cli.times import local

    market = data["market_state"]
    colour = {"OPEN": "green", "PRE_OPEN": "yellow"}.get(market, "red")
    console.print(f"[bold]{local(data['at'], zone)}[/bold]  trade date {data['trade_date']}")
    console.print(f"  market        [{colour}]{market}[/{colour}]")
    console.print(f"  feed handler  {_onoff(data['feed_handler'] == 'on', 'on', 'off')}")
    console.print(f"  order entry   {_onoff(data['order_entry'] == 'up', 'up', 'down')}")
    console.print(f"  maintenance   {_onoff(data['maintenance'], 'yes', 'no')}")
    console.print(f"  L3 loop       {_onoff(data['l3_loop'] == 'on', 'on', 'off')}")
    if data["holiday"]:
        console.print(f"  holiday       {data['holiday']['date']} {holiday_text(data['holiday'])}")
    if data["next"]:
        table = Table(title="next", title_justify="left", box=None, pad_edge=False)
        table.add_column("at")
        table.add_column("event")
        for ev in data["next"]:
            table.add_row(local(ev["at"], zone), ev["event"])
        console.print(table)


def events_text(
    events: list[dict[str, str]],
    zone: ZoneInfo,
    engine: ScheduleEngine,
    console: Console,
    days: list[dict[str, Any]] | None = None,
) -> None:
    """Events by day with the trade date each belongs to; with ``days``, every day of the span
    too, a holiday (closure or early close) by name and a day without trading as closed."""
    from rich.markup import escape
    from rich.table import Table

    if not events and not days:
        console.print("no scheduled events in that span")
        return
    by_day: dict[str, list[tuple[dt.datetime, str]]] = {}
    for ev in events:
        at = dt.datetime.fromisoformat(ev["at"]).astimezone(zone)
        by_day.setdefault(at.date().isoformat(), []).append((at, ev["event"]))
    if days is None:
        days_shown: list[dict[str, Any]] = [{"date": d} for d in by_day]
    else:
        days_shown = days
    table = Table(box=None, pad_edge=False, show_header=True)
    for col in ("day", "trade date", f"time ({zone.key})", "event"):
        table.add_column(col, no_wrap=True)
    for i, day in enumerate(days_shown):
        label = dt.date.fromisoformat(day["date"]).strftime("%a %Y-%m-%d")
        if i:
            table.add_section()
        notes = []
        if day.get("holiday"):
            notes.append(holiday_text(day["holiday"]))
        elif day.get("closed") and day["date"] not in by_day:
            notes.append("closed: no trading")
        for note in notes:
            table.add_row(label, "", "", escape(note))
            label = ""
        for at, event in by_day.get(day["date"], []):
            trade = engine.trade_date(at).isoformat()
            table.add_row(label, trade, at.strftime("%H:%M %Z"), event)
            label = ""
    console.print(table)


def _now_text(result: ScheduleNow, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.times import print_zone

    print_zone(console, result.zone)
    state_text(result.state, result.zone, console)


@view(ScheduleNow, _now_text)
def now_data(result: ScheduleNow) -> dict[str, Any]:
    return result.state


def _span_text(result: ScheduleSpan, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.times import print_zone

    print_zone(console, result.zone)
    events_text(result.events, result.zone, result.engine, console, result.days)


@view(ScheduleSpan, _span_text)
def span_data(result: ScheduleSpan) -> dict[str, Any]:
    return {
        "from": result.start.astimezone(result.zone).isoformat(),
        "to": result.end.astimezone(result.zone).isoformat(),
        "events": result.events,
        "days": result.days,
    }


def _next_text(result: ScheduleNext, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.times import print_zone

    print_zone(console, result.zone)
    events_text(result.events, result.zone, result.engine, console)


@view(ScheduleNext, _next_text)
def next_data(result: ScheduleNext) -> dict[str, Any]:
    at = result.at.astimezone(result.zone).isoformat(timespec="seconds")
    return {"at": at, "events": result.events}


def _check_text(result: ScheduleCheck, console: Console, out: OutputOptions) -> None:
    for r in result.files:
        console.print(f"[green]ok[/green] {r['file']}: {r['summary']}")


@view(ScheduleCheck, _check_text)
def check_data(result: ScheduleCheck) -> dict[str, Any]:
    return {"files": result.files}
