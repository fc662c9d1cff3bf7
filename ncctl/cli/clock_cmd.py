"""``ncctl clock set``: the simulated clock of a development setup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt, check_speed

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="The simulated clock of a development setup ([clock] file).", no_args_is_help=True
)


@app.command("set")
def clock_set(
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
    json: JsonOpt = False,
) -> None:
    """Start (or move) the simulated clock named by [clock] file in the configuration."""
    from ncctl.clock import SharedClock
    from ncctl.errors import ConfigError
    from ncctl.schedule.timeparse import parse_instant

    output.begin("clock set", json)
    cfg = STATE.config().config
    if cfg.clock.file is None:
        raise ConfigError(
            "clock.file is not set: this configuration runs on the machine's clock",
            hint=f'add [clock] file = "{cfg.state_dir / "clock.json"}" to the configuration',
        )
    instant = parse_instant(at, STATE.engine().zone, "AT")
    SharedClock(cfg.clock.file, source="clock.file").set(instant, speed=speed, paused=paused)
    data = {
        "file": str(cfg.clock.file),
        "at": instant.isoformat(),
        "speed": speed,
        "paused": paused,
    }

    def draw(console: Console) -> None:
        from ncctl.cli.times import display_zone, local, print_zone

        zone = display_zone()
        print_zone(console, zone)
        state = "paused" if paused else f"running at x{speed:g}"
        console.print(f"simulated clock {cfg.clock.file}: {local(instant, zone)}, {state}")

    output.emit(data, draw)
