"""``ncctl status``: per component, desired state (schedule) against actual (backend)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command

if TYPE_CHECKING:
    from typing import Any

    from ncctl.appconfig.model import NcctlConfig
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
    warnings = engine.coverage_warnings(now, now)
    warnings += with_affinity(rows, loaded.config)
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
        warnings=warnings,
    )


def with_affinity(rows: list[dict[str, Any]], config: NcctlConfig) -> list[str]:
    """Add to each component's row the CPUs it runs on (``sched_getaffinity`` of its process)
    against those the tuning profile's ``[cpus]`` gives it; a warning per mismatch."""
    from pathlib import Path

    from ncctl.components.status import process_cpus
    from ncctl.install.pins import profile_pins
    from ncctl.tuning.cpuset import format_cpulist, parse_cpulist

    pins = profile_pins(config, Path.cwd())
    warnings: list[str] = []
    for row in rows:
        wanted = pins.components.get(row["name"])
        actual = process_cpus(row["pid"]) if row["actual"] == "running" else None
        mismatch = wanted is not None and actual is not None and actual != parse_cpulist(wanted)
        row["affinity"] = {
            "actual": format_cpulist(actual) if actual is not None else None,
            "profile": wanted,
            "mismatch": mismatch,
        }
        if mismatch:
            warnings.append(
                f"{row['name']} (PID {row['pid']}) runs on CPUs {row['affinity']['actual']}, "
                f"not the tuning profile's {wanted}: restart it through its unit "
                "(`ncctl systemd units` sets CPUAffinity=)"
            )
    return warnings
