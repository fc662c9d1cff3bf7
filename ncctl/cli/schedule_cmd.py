"""``ncctl schedule …``: what should be running now, and what happens next."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli.command import command

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.schedule import ScheduleCheck, ScheduleNext, ScheduleNow, ScheduleSpan
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


def instant(
    ctx: CommandContext, engine: ScheduleEngine, text: str | None, option: str = "--at"
) -> dt.datetime:
    from ncctl.schedule.timeparse import parse_instant

    if text is None:
        return ctx.now()
    return parse_instant(text, engine.zone, option)


def state_data(engine: ScheduleEngine, at: dt.datetime, zone: ZoneInfo) -> dict[str, Any]:
    from ncctl.schedule.views import state_view

    state = engine.state_at(at)
    return state_view(state, engine.next_transitions(at, 5), zone)


@command(app, "now", tz=True)
def now(ctx: CommandContext, at: AtOpt = None) -> ScheduleNow:
    """Show the scheduled state at an instant (default now) and the next five events."""
    from ncctl.cli.views.schedule import ScheduleNow

    engine = ctx.engine()
    zone = ctx.display_zone()
    t = instant(ctx, engine, at)
    return ScheduleNow(state_data(engine, t, zone), zone, engine.coverage_warnings(t, t))


@command(app, "show", tz=True)
def show(
    ctx: CommandContext,
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
) -> ScheduleSpan:
    """Show the scheduled events of a week (default this week) or of a span, by day."""
    from ncctl.cli.views.schedule import ScheduleSpan
    from ncctl.errors import UsageError
    from ncctl.schedule.timeparse import parse_date
    from ncctl.schedule.views import days_view, events_view

    engine = ctx.engine()
    zone = ctx.display_zone()
    if week is not None and (from_ is not None or to is not None):
        raise UsageError(
            "--week cannot be combined with --from/--to", hint="use one way to pick the span"
        )
    if (from_ is None) != (to is None):
        raise UsageError("--from and --to go together", hint="give both, or use --week")
    if from_ is not None and to is not None:
        start = instant(ctx, engine, from_, "--from")
        end = instant(ctx, engine, to, "--to")
        if end <= start:
            raise UsageError("--to must be after --from", hint="swap them")
        if end - start > dt.timedelta(days=366 * 5):
            raise UsageError("the span is longer than five years", hint="ask for a shorter span")
    else:
        day = parse_date(week) if week is not None else ctx.now().astimezone(engine.zone).date()
        start = engine.week_start(dt.datetime.combine(day, dt.time(12), tzinfo=engine.zone))
        end = dt.datetime.combine(
            start.date() + dt.timedelta(days=7), dt.time(0), tzinfo=engine.zone
        )
    events = events_view(engine.transitions(start, end), zone)
    days = days_view(engine, start, end, zone)
    warnings = engine.coverage_warnings(start, end)
    return ScheduleSpan(start, end, events, days, zone, engine, warnings)


@command(app, "next", tz=True)
def next_(
    ctx: CommandContext,
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
) -> ScheduleNext:
    """Show the next scheduled events after an instant (default now)."""
    from ncctl.cli.views.schedule import ScheduleNext
    from ncctl.errors import UsageError
    from ncctl.schedule.files import STATE_EVENTS
    from ncctl.schedule.views import events_view

    if event and not any(name.startswith(event) for name in STATE_EVENTS):
        raise UsageError(
            f"--event {event!r} matches no event",
            hint=f"events are: {', '.join(sorted(STATE_EVENTS))}",
        )
    engine = ctx.engine()
    zone = ctx.display_zone()
    t = instant(ctx, engine, at)
    upcoming = engine.next_transitions(t, count, prefix=event)
    events = events_view(upcoming, zone)
    end = upcoming[-1].at if upcoming else t
    return ScheduleNext(t, events, zone, engine, engine.coverage_warnings(t, end))


@command(app, "check")
def check(
    ctx: CommandContext,
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Schedule or holiday files to check (default: those the configuration uses).",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
) -> ScheduleCheck:
    """Validate weekly templates and holiday tables (exit 78 naming the file and key)."""
    from ncctl.cli.views.schedule import ScheduleCheck
    from ncctl.schedule.check import check_files

    if not files:
        sched = ctx.config().config.schedule
        files = [sched.template_path(), *sched.holiday_paths()]
    return ScheduleCheck(check_files(files))
