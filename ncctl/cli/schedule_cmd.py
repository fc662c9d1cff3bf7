"""``ncctl schedule …``: what should be running now, and what happens next."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt, TzOpt

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.schedule import ScheduleEngine

app = typer.Typer(
    help="The CME week in Chicago time: state now, upcoming events, schedule files.",
    no_args_is_help=True,
)

AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="The instant to ask about, ISO 8601; without an offset it is Chicago wall-clock "
        "time (default: now).",
        metavar="TIME",
    ),
]


def utc_now() -> dt.datetime:
    return STATE.now()


def instant(engine: ScheduleEngine, text: str | None, option: str = "--at") -> dt.datetime:
    from ncctl.schedule.timeparse import parse_instant

    if text is None:
        return utc_now()
    return parse_instant(text, engine.zone, option)


def _onoff(flag: bool, yes: str, no: str) -> str:
    return f"[green]{yes}[/green]" if flag else f"[dim]{no}[/dim]"


def render_state(data: dict[str, Any], zone: ZoneInfo) -> output.Renderer:
    def draw(console: Console) -> None:
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
            console.print(
                f"  holiday       {data['holiday']['date']} {holiday_text(data['holiday'])}"
            )
        if data["next"]:
            table = Table(title="next", title_justify="left", box=None, pad_edge=False)
            table.add_column("at")
            table.add_column("event")
            for ev in data["next"]:
                table.add_row(local(ev["at"], zone), ev["event"])
            console.print(table)

    return draw


def holiday_text(h: dict[str, Any]) -> str:
    """A holiday by name: ``closed: Christmas Day (note)``, ``early close 12:15: … (note)``."""
    what = "closed" if h["kind"] == "closed" else f"early close {h['close']}"
    return f"{what}: {h['name']}" + (f" ({h['note']})" if h["note"] else "")


def state_data(engine: ScheduleEngine, at: dt.datetime, zone: ZoneInfo) -> dict[str, Any]:
    from ncctl.schedule.views import state_view

    state = engine.state_at(at)
    return state_view(state, engine.next_transitions(at, 5), zone)


@app.command("now")
def now(at: AtOpt = None, tz: TzOpt = None, json: JsonOpt = False) -> None:
    """Show the scheduled state at an instant (default now) and the next five events."""
    output.begin("schedule now", json)
    engine = STATE.engine()
    zone = STATE.display_zone(tz)
    t = instant(engine, at)
    data = state_data(engine, t, zone)
    output.emit(
        data, with_zone(zone, render_state(data, zone)), warnings=engine.coverage_warnings(t, t)
    )


def with_zone(zone: ZoneInfo, *renderers: output.Renderer) -> output.Renderer:
    """A text view that shows times: a line naming their zone, then the views."""

    def draw(console: Console) -> None:
        from ncctl.cli.times import print_zone

        print_zone(console, zone)
        for render in renderers:
            render(console)

    return draw


def render_events(
    events: list[dict[str, str]],
    zone: ZoneInfo,
    engine: ScheduleEngine,
    days: list[dict[str, Any]] | None = None,
) -> output.Renderer:
    """Events by day with the trade date each belongs to; with ``days``, every day of the span
    too, a holiday (closure or early close) by name and a day without trading as closed."""

    def draw(console: Console) -> None:
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

    return draw


@app.command("show")
def show(
    week: Annotated[
        str | None,
        typer.Option(
            "--week", help="Show the week (Sunday to Saturday) holding this date.", metavar="DATE"
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Start of the span, ISO 8601 (with --to).", metavar="TIME"),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="End of the span, ISO 8601, exclusive.", metavar="TIME"),
    ] = None,
    tz: TzOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show the scheduled events of a week (default this week) or of a span, by day."""
    from ncctl.errors import UsageError
    from ncctl.schedule.timeparse import parse_date
    from ncctl.schedule.views import days_view, events_view

    output.begin("schedule show", json)
    engine = STATE.engine()
    zone = STATE.display_zone(tz)
    if week is not None and (from_ is not None or to is not None):
        raise UsageError(
            "--week cannot be combined with --from/--to", hint="use one way to pick the span"
        )
    if (from_ is None) != (to is None):
        raise UsageError("--from and --to go together", hint="give both, or use --week")
    if from_ is not None and to is not None:
        start = instant(engine, from_, "--from")
        end = instant(engine, to, "--to")
        if end <= start:
            raise UsageError("--to must be after --from", hint="swap them")
        if end - start > dt.timedelta(days=366 * 5):
            raise UsageError("the span is longer than five years", hint="ask for a shorter span")
    else:
        day = parse_date(week) if week is not None else utc_now().astimezone(engine.zone).date()
        start = engine.week_start(dt.datetime.combine(day, dt.time(12), tzinfo=engine.zone))
        end = dt.datetime.combine(
            start.date() + dt.timedelta(days=7), dt.time(0), tzinfo=engine.zone
        )
    events = events_view(engine.transitions(start, end), zone)
    days = days_view(engine, start, end, zone)
    data = {"from": start.astimezone(zone).isoformat(), "to": end.astimezone(zone).isoformat()}
    data_out: dict[str, Any] = {**data, "events": events, "days": days}
    output.emit(
        data_out,
        with_zone(zone, render_events(events, zone, engine, days)),
        warnings=engine.coverage_warnings(start, end),
    )


@app.command("next")
def next_(
    count: Annotated[
        int, typer.Option("--count", "-n", help="How many events.", min=1, max=1000)
    ] = 5,
    event: Annotated[
        str,
        typer.Option(
            "--event",
            help="Only events whose name starts with this, like market. or order_entry.up.",
            metavar="PREFIX",
        ),
    ] = "",
    at: AtOpt = None,
    tz: TzOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show the next scheduled events after an instant (default now)."""
    from ncctl.errors import UsageError
    from ncctl.schedule.data import STATE_EVENTS
    from ncctl.schedule.views import events_view

    output.begin("schedule next", json)
    if event and not any(name.startswith(event) for name in STATE_EVENTS):
        raise UsageError(
            f"--event {event!r} matches no event",
            hint=f"events are: {', '.join(sorted(STATE_EVENTS))}",
        )
    engine = STATE.engine()
    zone = STATE.display_zone(tz)
    t = instant(engine, at)
    upcoming = engine.next_transitions(t, count, prefix=event)
    events = events_view(upcoming, zone)
    end = upcoming[-1].at if upcoming else t
    output.emit(
        {"at": t.astimezone(zone).isoformat(timespec="seconds"), "events": events},
        with_zone(zone, render_events(events, zone, engine)),
        warnings=engine.coverage_warnings(t, end),
    )


@app.command("check")
def check(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Schedule or holiday files to check (default: those the configuration uses).",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Validate weekly templates and holiday tables (exit 78 naming the file and key)."""
    from ncctl.schedule.check import check_files

    output.begin("schedule check", json)
    if not files:
        sched = STATE.config().config.schedule
        files = [sched.template_path(), *sched.holiday_paths()]
    results = check_files(files)

    def draw(console: Console) -> None:
        for r in results:
            console.print(f"[green]ok[/green] {r['file']}: {r['summary']}")

    output.emit({"files": results}, draw)
