"""``ncctl status``: the desired state of everything, from the schedule."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt, TzOpt

if TYPE_CHECKING:
    from rich.console import Console


def status(
    week: Annotated[
        bool, typer.Option("--week", help="Also list this week's scheduled events.")
    ] = False,
    tz: TzOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show what should be running now according to the schedule."""
    from ncctl.cli.schedule_cmd import render_events, render_state, state_data, utc_now
    from ncctl.schedule.views import events_view

    output.begin("status", json)
    loaded = STATE.config()
    engine = STATE.engine()
    zone = STATE.display_zone(tz)
    now = utc_now()
    sched = state_data(engine, now, zone)
    data: dict[str, Any] = {
        "config": {"path": str(loaded.path), "source": loaded.source},
        "environment": loaded.config.environment,
        "schedule": sched,
        "components": {
            "feed_handler": {"desired": sched["feed_handler"]},
            "order_session": {"desired": sched["order_entry"]},
        },
    }
    events: list[dict[str, str]] = []
    if week:
        start = engine.week_start(now)
        end = start + dt.timedelta(days=7)
        events = events_view(engine.transitions(start, end), zone)
        data["week"] = events

    def draw(console: Console) -> None:
        console.print(
            f"environment [bold]{data['environment']}[/bold]  config {loaded.path} "
            f"({loaded.source})"
        )
        render_state(sched)(console)
        if week:
            console.print()
            console.print("[bold]this week[/bold]")
            render_events(events, zone)(console)

    output.emit(data, draw, warnings=engine.coverage_warnings(now, now))
