"""Views of the component groups (``ncctl feed …``, ``ncctl session …``): an action's result
and the status of components, desired against actual (the table ``ncctl status`` shares)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.components.backend import ActionResult
    from ncctl.errors import NcctlError


@dataclass(frozen=True)
class ComponentAction:
    """What start, stop or restart of a component did."""

    result: ActionResult


def action_text(shown: ComponentAction, console: Console, out: OutputOptions) -> None:
    result = shown.result
    mark = "[green]ok[/green]" if result.changed else "[dim]no-op[/dim]"
    console.print(f"{mark} {result.name}: {result.message}")


@view(ComponentAction, action_text)
def action_data(shown: ComponentAction) -> dict[str, Any]:
    return shown.result.as_dict()


@dataclass(frozen=True)
class ComponentStatus:
    """One component, desired against actual (``Lifecycle.status``)."""

    row: dict[str, Any]
    zone: ZoneInfo
    """The zone the text shows ``since`` in."""

    @property
    def document_warnings(self) -> list[str]:
        """Damaged pidfiles, as warnings of a JSON/YAML answer (the text shows them itself)."""
        return pidfile_warnings([self.row])

    def failure(self) -> NcctlError | None:
        return drift_error([self.row])


def status_text(shown: ComponentStatus, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.times import print_zone

    print_zone(console, shown.zone)
    components_text([shown.row], shown.zone, console, out.wide)


@view(ComponentStatus, status_text)
def status_data(shown: ComponentStatus) -> dict[str, Any]:
    return shown.row


def components_text(
    rows: list[dict[str, Any]], zone: ZoneInfo, console: Console, wide: bool
) -> None:
    """Components: desired against actual state, ``since`` in ``zone``; ``wide``: with the
    detail column (``-o wide``)."""
    from rich.markup import escape
    from rich.table import Table

    from ncctl.cli.times import local

    table = Table(box=None, pad_edge=False)
    for col in ("component", "backend", "desired", "actual", "pid", "since", ""):
        table.add_column(col)
    if wide:
        table.add_column("detail")
    for row in rows:
        flag = "[red]DRIFT[/red]" if row["drift"] else "[green]in sync[/green]"
        actual = row["actual"]
        if row.get("exit_code") is not None:
            actual += f" (exit {row['exit_code']})"
        cells = [
            row["name"],
            row["backend"],
            row["desired"],
            actual,
            str(row["pid"] or ""),
            local(row["since"], zone),
            flag,
        ]
        if wide:
            cells.append(escape(str(row.get("detail") or "")))
        table.add_row(*cells)
    console.print(table)
    for warning in pidfile_warnings(rows):
        console.print(f"warning: {warning}", markup=False, highlight=False)
    for row in rows:
        if row["actual"] == "crashed" and row.get("log_tail"):
            console.print(f"[bold]{row['name']}[/bold] log tail:")
            for line in row["log_tail"]:
                console.print(f"  {line}", markup=False, highlight=False)


def pidfile_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """One warning per component whose pidfile is damaged (and so not trusted)."""
    from ncctl.components.pidfile import PIDFILE_DAMAGED

    return [
        f"{r['name']}: {r['detail']}"
        for r in rows
        if str(r.get("detail")).startswith(PIDFILE_DAMAGED)
    ]


def drift_error(rows: list[dict[str, Any]]) -> NcctlError | None:
    """The failure that a drift between schedule and reality is (exit 1), or None."""
    from ncctl.errors import RefusedError

    drifting = [r for r in rows if r["drift"]]
    if not drifting:
        return None
    what = ", ".join(f"{r['name']} is {r['actual']} but should be {r['desired']}" for r in drifting)
    return RefusedError(
        f"drift: {what}",
        hint="`ncctl feed|session start|stop` converges by hand",
        code="drift",
    )
