"""``ncctl systemd …``: systemd unit files for ncctl and its components."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command
from ncctl.cli.options import DryRunOpt

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.systemd import UnitFiles

app = typer.Typer(
    help="Generate the systemd units that run ncctl and its components on a host.",
    no_args_is_help=True,
)


@command(app, "units")
def units(
    ctx: CommandContext,
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
) -> UnitFiles:
    """Write unit files: the components, ncctl-scheduler, the ncctl-maintenance timer,
    ncctl-tune, ncctl-tune-boot (tune reapply at every boot) and, when the tuning profile
    sets [pin] force_latency, ncctl-latency (tune hold-latency).

    The units pass the resolved configuration file (--config) and run in the state
    directory (in the current directory if the configuration has relative paths).

    They are sandboxed: ncctl's units and the components run as systemd.user and
    systemd.group, write only the directories the configuration names, and get the
    iLink secret and SFTP keys from systemd (LoadCredential=). The tuning units run as
    root, without network. CPUAffinity=: the tuning profile's housekeeping CPUs for
    ncctl's units, its [cpus] entry for each component. Warnings name directories to
    create first and paths that the sandbox hides.

    Files whose content is unchanged are not rewritten.

    Install: `cp DIR/* /etc/systemd/system/ && systemctl daemon-reload`.
    """
    from ncctl.cli.views.systemd import UnitFiles
    from ncctl.install import units as unitfiles

    loaded = ctx.config()
    ncctl, base, config_path = unitfiles.ncctl_executable(), Path.cwd(), loaded.path.absolute()
    texts = unitfiles.generate_units(loaded.config, ncctl=ncctl, base=base, config_path=config_path)
    notes = unitfiles.generation_notes(
        loaded.config, ncctl=ncctl, base=base, config_path=config_path
    )
    legacy = ctx.legacy_output_dir
    if legacy is not None:
        directory = Path(legacy)
        notes = [f"--output {legacy} is deprecated for the directory: use --dir {legacy}", *notes]
    target = directory.absolute()
    results = unitfiles.write_units(texts, target, dry_run)
    return UnitFiles(target, dry_run, results, notes)
