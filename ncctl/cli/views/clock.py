"""Views of ``ncctl clock``: the simulated clock of a development setup."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions


@dataclass(frozen=True)
class ClockSet:
    file: Path
    at: dt.datetime
    speed: float
    paused: bool
    zone: ZoneInfo
    """The zone the text shows the time in."""


def text(result: ClockSet, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.times import local, print_zone

    print_zone(console, result.zone)
    state = "paused" if result.paused else f"running at x{result.speed:g}"
    console.print(f"simulated clock {result.file}: {local(result.at, result.zone)}, {state}")


@view(ClockSet, text)
def data(result: ClockSet) -> dict[str, Any]:
    return {
        "file": str(result.file),
        "at": result.at.isoformat(),
        "speed": result.speed,
        "paused": result.paused,
    }
