"""``ncctl status``: per component, desired state (schedule) against actual (backend)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.status import StatusReport


@command(None, "status", tz=True)
def status(
    ctx: CommandContext,
    week: Annotated[
        bool, typer.Option("--week", help="Also list this week's scheduled events.")
    ] = False,
) -> StatusReport:
    """Show what should be running (schedule) and what is (backends); exit 1 on drift."""
    from ncctl.cli.component_group import observer
    from ncctl.cli.schedule_cmd import state_data
    from ncctl.cli.views.components import drift_error
    from ncctl.cli.views.status import StatusReport
    from ncctl.components.backend import COMPONENTS
    from ncctl.schedule.views import events_view

    loaded = ctx.config()
    engine = ctx.engine()
    zone = ctx.display_zone()
    life = observer(ctx)
    now = life.now
    sched = state_data(engine, now, zone)
    rows = [life.status(name) for name in COMPONENTS]
    events = None
    if week:
        start = engine.week_start(now)
        end = start + dt.timedelta(days=7)
        events = events_view(engine.transitions(start, end), zone)
    return StatusReport(
        environment=loaded.config.environment,
        config_path=loaded.path,
        config_source=loaded.source,
        schedule=sched,
        components=rows,
        week=events,
        zone=zone,
        engine=engine,
        drift=drift_error(rows),
        warnings=engine.coverage_warnings(now, now),
    )
