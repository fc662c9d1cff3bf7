"""The Typer application: global options and the command groups, wired in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ncctl import __version__
from ncctl.cli import audit_cmd, component_cmd, config_cmd, schedule_cmd, status_cmd
from ncctl.cli.context import STATE

app = typer.Typer(
    name="ncctl",
    help="Operations CLI for a managed, colocated CME Globex trading environment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ncctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Configuration file (default: $NCCTL_CONFIG, configs/$NCCTL_ENV.toml, "
            "/etc/ncctl/config.toml, then the embedded dev configuration).",
            metavar="PATH",
        ),
    ] = None,
    clock: Annotated[
        str | None,
        typer.Option(
            "--clock",
            help="Run on a simulated clock starting at this ISO 8601 time (Chicago wall-clock "
            "without an offset) instead of the machine's clock.",
            metavar="TIME",
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option("--speed", help="With --clock: simulated seconds per real second.", min=0.001),
    ] = 1.0,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback for unexpected errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Operations CLI for a managed, colocated CME Globex trading environment.

    Times are America/Chicago wall-clock unless a command says otherwise. Exit codes: 0 ok,
    1 failed or refused, 2 bad command line, 64 bad argument value, 65 bad data,
    69 unavailable, 70 internal error, 73 cannot create, 75 retry later, 77 permission,
    78 configuration.
    """
    STATE.config_path = config
    STATE.debug = debug
    STATE.clock_at = clock
    STATE.clock_speed = speed


app.command("status")(status_cmd.status)
app.add_typer(schedule_cmd.app, name="schedule")
app.add_typer(component_cmd.feed_app, name="feed")
app.add_typer(component_cmd.session_app, name="session")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(config_cmd.app, name="config")
