"""Views of ``ncctl demo``: the simulated week, event by event, and its summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.errors import NcctlError
    from ncctl.runner.demo import DemoResult


@dataclass(frozen=True)
class DemoWeek:
    result: DemoResult
    workdir: Path
    """The demo's own directory (its logs)."""
    zone: ZoneInfo

    def failure(self) -> NcctlError | None:
        """A week that was not as scheduled (exit 1)."""
        from ncctl.errors import RefusedError

        result = self.result
        if result.ok:
            return None
        problems = (
            result.problems
            + [f"{e.at}: {p}" for e in result.events for p in e.problems]
            + result.uploads_missing
        )
        return RefusedError(
            f"the simulated week was not as scheduled: {len(problems)} problem(s); first: "
            f"{problems[0] if problems else 'journal'}",
            hint=f"read the summary above; logs are under {self.workdir}",
            code="demo.failed",
        )


def week_text(shown: DemoWeek, console: Console, out: OutputOptions) -> None:
    import datetime as dt

    from rich.table import Table

    from ncctl.cli.times import print_zone

    result, zone = shown.result, shown.zone
    print_zone(console, zone)
    table = Table(title=f"week of {result.week}", box=None, pad_edge=False)
    for col in ("at", "events", "late (sim s)", "actions and jobs", ""):
        table.add_column(col)
    for e in result.events:
        at = dt.datetime.fromisoformat(e.at).astimezone(zone).strftime("%a %H:%M %Z")
        mark = "[green]ok[/green]" if not e.problems else "[red]" + "; ".join(e.problems) + "[/red]"
        table.add_row(
            at, ", ".join(e.events), f"{e.lateness_s:.3f}", "; ".join(e.actions + e.jobs), mark
        )
    console.print(table)
    console.print(
        f"{len(result.events)} event instants in {result.real_seconds:.1f} s real "
        f"(x{result.speed:g}); uploads verified: {result.uploads_verified}; party-details "
        f"rows in the audit trail: {result.registration_rows}; order-session logons at the "
        f"gateway: {result.order_session_establishments}; journal "
        f"{'intact' if result.journal_intact else 'BROKEN'} ({result.journal_lines} lines)"
    )


@view(DemoWeek, week_text)
def week_data(shown: DemoWeek) -> dict[str, Any]:
    return shown.result.as_dict()
