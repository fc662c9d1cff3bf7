"""Views of ``ncctl systemd units``: the unit files written (or that would be)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.install.units import UnitFile


@dataclass(frozen=True)
class UnitFiles:
    directory: Path
    dry_run: bool
    files: list[UnitFile]
    warnings: list[str]
    """Directories to create first, paths the sandbox hides, a deprecated spelling."""


def units_text(result: UnitFiles, console: Console, out: OutputOptions) -> None:
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    table.add_column("file")
    table.add_column("status")
    for r in result.files:
        if not r.changed:
            status = "[dim]unchanged[/dim]"
        elif result.dry_run:
            status = "[yellow]would write[/yellow]"
        else:
            status = "[green]written[/green]"
        table.add_row(str(r.path), status)
    console.print(table)
    if any(r.changed for r in result.files) and not result.dry_run:
        console.print(
            f"install: cp {result.directory}/* /etc/systemd/system/ && systemctl daemon-reload",
            markup=False,
        )


@view(UnitFiles, units_text)
def units_data(result: UnitFiles) -> dict[str, Any]:
    return {
        "directory": str(result.directory),
        "dry_run": result.dry_run,
        "files": [r.as_dict() for r in result.files],
    }
