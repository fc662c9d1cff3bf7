"""Views of ``ncctl status``: the schedule now and every component, desired against actual."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.errors import NcctlError
    from ncctl.schedule import ScheduleEngine


@dataclass(frozen=True)
class StatusReport:
    environment: str
    config_path: Path
    config_source: str
    schedule: dict[str, Any]
    """The scheduled state now (``schedule.views.state_view``)."""
    components: list[dict[str, Any]]
    """One row per component (``Lifecycle.status``)."""
    week: list[dict[str, str]] | None
    """This week's events, when asked for."""
    zone: ZoneInfo
    engine: ScheduleEngine
    drift: NcctlError | None = None
    warnings: list[str] = field(default_factory=list)

    def failure(self) -> NcctlError | None:
        return self.drift


def text(result: StatusReport, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.times import print_zone
    from ncctl.cli.views.components import components_text
    from ncctl.cli.views.schedule import events_text, state_text

    zone = result.zone
    print_zone(console, zone)
    console.print(
        f"environment [bold]{result.environment}[/bold]  config {result.config_path} "
        f"({result.config_source})"
    )
    state_text(result.schedule, zone, console)
    console.print()
    components_text(result.components, zone, console, out.wide)
    for row in result.components:
        cpus = row.get("affinity") or {}
        if cpus.get("actual") is None and cpus.get("profile") is None:
            continue
        flag = "[red]MISMATCH[/red]" if cpus["mismatch"] else ""
        console.print(
            f"  {row['name']} CPUs: {cpus['actual'] or '-'} (profile: "
            f"{cpus['profile'] or 'not pinned'}) {flag}".rstrip()
        )
    if result.week is not None:
        console.print()
        console.print("[bold]this week[/bold]")
        events_text(result.week, zone, result.engine, console)


@view(StatusReport, text)
def data(result: StatusReport) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "at": result.schedule["at"],
        "environment": result.environment,
        "config": {"path": str(result.config_path), "source": result.config_source},
        "schedule": result.schedule,
        "components": result.components,
        "drift": any(r["drift"] for r in result.components),
    }
    if result.week is not None:
        doc["week"] = result.week
    return doc
