"""``ncctl clock set``: the simulated clock of a development setup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command
from ncctl.cli.options import check_speed

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.clock import ClockSet

app = typer.Typer(
    help="The simulated clock of a development setup ([clock] file).", no_args_is_help=True
)


@command(app, "set")
def clock_set(
    ctx: CommandContext,
    at: Annotated[
        str, typer.Argument(help="Simulated time, ISO 8601 (Chicago time without offset).")
    ],
    speed: Annotated[
        float,
        typer.Option(
            "--speed", help="Simulated seconds per real second.", min=0.001, callback=check_speed
        ),
    ] = 1.0,
    paused: Annotated[bool, typer.Option("--paused", help="Stop the clock at that time.")] = False,
) -> ClockSet:
    """Start (or move) the simulated clock named by [clock] file in the configuration."""
    from ncctl.cli.views.clock import ClockSet
    from ncctl.clock import SharedClock
    from ncctl.errors import ConfigError
    from ncctl.schedule.timeparse import parse_instant

    cfg = ctx.config().config
    if cfg.clock.file is None:
        raise ConfigError(
            "clock.file is not set: this configuration runs on the machine's clock",
            hint=f'add [clock] file = "{cfg.state_dir / "clock.json"}" to the configuration',
        )
    instant = parse_instant(at, ctx.engine().zone, "AT")
    SharedClock(cfg.clock.file, source="clock.file").set(instant, speed=speed, paused=paused)
    return ClockSet(cfg.clock.file, instant, speed, paused, ctx.display_zone())
