"""The Typer application: global options and the command groups, wired in one place."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Annotated

import typer

from ncctl import __version__
from ncctl.cli.context import GlobalOptions, of
from ncctl.cli.options import OutputGroup, check_speed

ENTRIES: dict[str, tuple[str, str]] = {
    "status": ("ncctl.cli.status_cmd", "status"),
    "preflight": ("ncctl.cli.preflight_cmd", "preflight"),
    "schedule": ("ncctl.cli.schedule_cmd", "app"),
    "feed": ("ncctl.cli.feed_cmd", "app"),
    "session": ("ncctl.cli.session_cmd", "app"),
    "logs": ("ncctl.cli.logs_cmd", "app"),
    "maintenance": ("ncctl.cli.maintenance_cmd", "app"),
    "cron": ("ncctl.cli.cron_cmd", "app"),
    "scheduler": ("ncctl.cli.scheduler_cmd", "app"),
    "demo": ("ncctl.cli.demo_cmd", "demo"),
    "clock": ("ncctl.cli.clock_cmd", "app"),
    "metrics": ("ncctl.cli.metrics_cmd", "metrics"),
    "party": ("ncctl.cli.party_cmd", "app"),
    "dev": ("ncctl.cli.dev_cmd", "app"),
    "tune": ("ncctl.cli.tune_cmd", "app"),
    "audit": ("ncctl.cli.audit_cmd", "app"),
    "config": ("ncctl.cli.config_cmd", "app"),
    "systemd": ("ncctl.cli.systemd_cmd", "app"),
    "completion": ("ncctl.cli.completion_cmd", "completion"),
}
"""Every top-level command or group: the module and attribute that define it, in help order."""

GLOBAL_OPTIONS_WITH_VALUES = frozenset({"--config", "--clock", "--speed", "-o", "--output"})

SHOWS_TIMES = frozenset(
    {
        "status",
        "schedule now",
        "schedule show",
        "schedule next",
        "feed status",
        "session status",
        "logs status",
        "logs rotate",
        "audit log",
        "maintenance run",
        "tune plan",
        "tune host",
        "tune verify",
        "clock set",
        "demo",
    }
)
"""The commands that show times: they take ``--tz`` and name the zone of their text view."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ncctl {__version__}")
        raise typer.Exit()


EXIT_STATUS: tuple[tuple[int, str], ...] = (
    (0, "ok"),
    (1, "failed, refused or drift"),
    (2, "bad command line"),
    (64, "bad argument value"),
    (65, "bad data"),
    (69, "unavailable"),
    (70, "internal error"),
    (73, "cannot create"),
    (75, "retry later"),
    (77, "permission denied"),
    (78, "configuration error"),
)
"""Every exit code of every command, and what it means (help, docs/cli.md, the man page)."""

TUNE_EXIT_STATUS: tuple[tuple[int, str], ...] = (
    (3, "reboot pending"),
    (4, "cannot be changed from here"),
)
"""The exit codes only ``ncctl tune`` adds."""

ROOT_HELP = (
    "Operations CLI for a managed, colocated CME Globex trading environment.\n\n"
    "Times are America/Chicago wall-clock unless a command says otherwise. "
    "Exit codes: "
    + ", ".join(f"{code} {meaning}" for code, meaning in EXIT_STATUS)
    + "; `ncctl tune` also "
    + " and ".join(f"{code} ({meaning})" for code, meaning in TUNE_EXIT_STATUS)
    + "."
)


def root(
    ctx: typer.Context,
    *,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Configuration file (default: $NCCTL_CONFIG, /etc/ncctl/config.toml, "
            "configs/$NCCTL_ENV.toml when NCCTL_ENV is set, then the embedded dev "
            "configuration, whose state is in $XDG_STATE_HOME/ncctl). Relative paths in a "
            "file are taken from its directory.",
            metavar="PATH",
            readable=False,  # reading it names every problem (exit 78)
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
        typer.Option(
            "--speed",
            help="With --clock: simulated seconds per real second.",
            min=0.001,
            callback=check_speed,
        ),
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
    """Global options, then one command."""
    of(ctx).options = GlobalOptions(config_path=config, clock_at=clock, speed=speed, debug=debug)


@cache
def build_app(only: str | None = None) -> typer.Typer:
    """The application; with ``only``, just that top-level entry (faster to start)."""
    application = typer.Typer(
        name="ncctl",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,  # `ncctl completion SHELL` prints the scripts instead
        # help texts are plain text: "[clock] file" is a TOML table, not Rich markup
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback(help=ROOT_HELP, cls=OutputGroup)(root)
    for name, (module, attribute) in ENTRIES.items():
        if only is not None and name != only:
            continue
        obj = getattr(importlib.import_module(module), attribute)
        if isinstance(obj, typer.Typer):
            application.add_typer(obj, name=name)
        else:
            application.command(name)(obj)
    _add_output_options(application, ())
    return application


def _add_output_options(application: typer.Typer, path: tuple[str, ...]) -> None:
    """Give every leaf command the output options (-o/--output, -q/--quiet, --json, and
    --tz where it shows times): they appear in its --help and in the generated docs."""
    from typer.main import get_command_name

    from ncctl.cli.options import output_command

    for info in application.registered_commands:
        assert info.callback is not None
        name = info.name or get_command_name(info.callback.__name__)
        full = " ".join((*path, name))
        info.cls = output_command(full, full in SHOWS_TIMES)
    for group in application.registered_groups:
        if group.typer_instance is not None and group.name is not None:
            _add_output_options(group.typer_instance, (*path, group.name))


def command_words(argv: Sequence[str], limit: int = 2) -> list[str]:
    """The first ``limit`` positional words of an argument vector (the command path, as far
    as it can be told before parsing), skipping the values of global options."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in GLOBAL_OPTIONS_WITH_VALUES:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        if len(words) >= limit:
            break
        words.append(arg)
    return words


def entry_named(argv: Sequence[str]) -> str | None:
    """The top-level command an argument vector names, if it names a known one."""
    words = command_words(argv, 1)
    return words[0] if words and words[0] in ENTRIES else None


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return build_app()
    raise AttributeError(name)
