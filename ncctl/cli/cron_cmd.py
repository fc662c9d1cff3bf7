"""``ncctl cron show``: the crontab line that runs a reconcile pass every minute."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ncctl.cli.command import command

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.cron import CronLines

app = typer.Typer(help="Run ncctl from cron.", no_args_is_help=True)


@command(app, "show")
def show(ctx: CommandContext) -> CronLines:
    """Print the crontab line that runs `ncctl maintenance run` every minute."""
    from ncctl.cli.views.cron import CronLines

    loaded = ctx.config()
    exe = shutil.which("ncctl") or str(Path(sys.argv[0]).absolute())
    state = loaded.config.state_dir.absolute()
    config = loaded.path.absolute()
    line = (
        f"* * * * * cd {Path.cwd()} && {exe} --config {config} maintenance run "
        f">> {state / 'log' / 'maintenance.log'} 2>&1"
    )
    notes = [
        "cron runs in the machine's time zone at minute resolution; the pass itself works in "
        "Chicago time, so any zone is fine",
        "a minute missed (host down) is caught up by the next pass",
    ]
    return CronLines([line], notes)
