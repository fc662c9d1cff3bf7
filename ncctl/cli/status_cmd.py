"""``ncctl status``: per component, desired state (schedule) against actual (backend)."""

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
    """Show what should be running (schedule) and what is (backends); exit 1 on drift."""
    from ncctl.cli.component_group import drift_error, observer, render_status
    from ncctl.cli.schedule_cmd import render_events, render_state, state_data
    from ncctl.components.base import COMPONENTS
    from ncctl.schedule.views import events_view

    output.begin("status", json)
    loaded = STATE.config()
    engine = STATE.engine()
    zone = STATE.display_zone(tz)
    life = observer()
    now = life.now
    sched = state_data(engine, now, zone)
    rows = [life.status(name) for name in COMPONENTS]
    drift = any(r["drift"] for r in rows)
    data: dict[str, Any] = {
        "at": sched["at"],
        "environment": loaded.config.environment,
        "config": {"path": str(loaded.path), "source": loaded.source},
        "schedule": sched,
        "components": rows,
        "drift": drift,
    }
    events: list[dict[str, str]] = []
    if week:
        start = engine.week_start(now)
        end = start + dt.timedelta(days=7)
        events = events_view(engine.transitions(start, end), zone)
        data["week"] = events

    def draw(console: Console) -> None:
        from ncctl.cli.times import print_zone

        print_zone(console, zone)
        console.print(
            f"environment [bold]{data['environment']}[/bold]  config {loaded.path} "
            f"({loaded.source})"
        )
        render_state(sched, zone)(console)
        console.print()
        render_status(rows, zone)(console)
        if week:
            console.print()
            console.print("[bold]this week[/bold]")
            render_events(events, zone, engine)(console)

    output.emit(data, draw, warnings=engine.coverage_warnings(now, now), failure=drift_error(rows))
