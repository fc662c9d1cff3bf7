"""``ncctl systemd …``: systemd unit files for ncctl and its components."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import DryRunOpt, JsonOpt, legacy_output_dir

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="Generate the systemd units that run ncctl and its components on a host.",
    no_args_is_help=True,
)


@app.command("units")
def units(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            help="Directory to write the unit files to (created if missing). Deprecated "
            "spelling: --output DIR (a value other than an output format).",
            metavar="DIR",
        ),
    ] = Path("systemd-units"),
    dry_run: DryRunOpt = False,
    json: JsonOpt = False,
) -> None:
    """Write unit files: the components, ncctl-scheduler, the ncctl-maintenance timer and
    ncctl-tune.

    The units pass the resolved configuration file (--config) and run in the state
    directory (in the current directory if the configuration has relative paths).

    They are sandboxed: ncctl's units and the components run as systemd.user and
    systemd.group, write only the directories the configuration names, and get the
    iLink secret and SFTP keys from systemd (LoadCredential=). ncctl-tune runs as
    root, without network. Warnings name directories to create first and paths
    that the sandbox hides.

    Files whose content is unchanged are not rewritten.

    Install: `cp DIR/* /etc/systemd/system/ && systemctl daemon-reload`.
    """
    from ncctl.install import units as unitfiles

    output.begin("systemd units", json)
    loaded = STATE.config()
    ncctl, base, config_path = unitfiles.ncctl_executable(), Path.cwd(), loaded.path.absolute()
    texts = unitfiles.generate_units(loaded.config, ncctl=ncctl, base=base, config_path=config_path)
    notes = unitfiles.generation_notes(
        loaded.config, ncctl=ncctl, base=base, config_path=config_path
    )
    legacy = legacy_output_dir.get()
    if legacy is not None:
        directory = Path(legacy)
        notes = [f"--output {legacy} is deprecated for the directory: use --dir {legacy}", *notes]
    target = directory.absolute()
    results = unitfiles.write_units(texts, target, dry_run)
    data: dict[str, Any] = {
        "directory": str(target),
        "dry_run": dry_run,
        "files": [r.as_dict() for r in results],
    }

    def draw(console: Console) -> None:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        table.add_column("file")
        table.add_column("status")
        for r in results:
            if not r.changed:
                status = "[dim]unchanged[/dim]"
            elif dry_run:
                status = "[yellow]would write[/yellow]"
            else:
                status = "[green]written[/green]"
            table.add_row(str(r.path), status)
        console.print(table)
        if any(r.changed for r in results) and not dry_run:
            console.print(
                f"install: cp {target}/* /etc/systemd/system/ && systemctl daemon-reload",
                markup=False,
            )

    output.emit(data, draw, warnings=notes)
