"""Option aliases shared by every command, and the output options added to each of them."""

from __future__ import annotations

import copy
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from ncctl.cli import output
from ncctl.cli.context import of

if TYPE_CHECKING:
    from typer import _click

JSON_HELP = "Print exactly one JSON document {ok, command, data, error} on stdout (-o json)."
TZ_HELP = "Show times in this IANA zone (default: schedule.display_tz, America/Chicago)."


def _remember_tz(ctx: typer.Context, value: str | None) -> str | None:
    """Option callback: every time the command shows is in this zone; an unknown zone is
    refused (exit 64) before the command does anything."""
    if value is not None:
        from ncctl.schedule.timeparse import parse_zone

        run = of(ctx)
        run.command = ctx.command_path.removeprefix("ncctl").strip()
        parse_zone(value)
        run.output.tz = value
    return value


JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
TzOpt = Annotated[
    str | None, typer.Option("--tz", help=TZ_HELP, metavar="ZONE", callback=_remember_tz)
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]


def check_speed(value: float) -> float:
    """Option callback: a clock speed is finite and above 0 (``nan``, ``inf`` are refused)."""
    from ncctl.clock import check_speed as problem_of

    problem = problem_of(value)
    if problem is not None:
        raise typer.BadParameter(problem)
    return value


ReasonOpt = Annotated[
    str | None,
    typer.Option("--reason", help="Why, recorded in the journal.", metavar="TEXT"),
]


LEGACY_OUTPUT_DIR_COMMAND = "systemd units"
"""The command whose ``--output`` named a directory before ``-o/--output`` chose the format."""


def _set_format(ctx: typer.Context, value: str | None) -> None:
    run = of(ctx)
    run.legacy_output_dir = None
    if value is None:
        return
    if value in output.FORMATS:
        run.output.format = value
        return
    if ctx.command_path.endswith(LEGACY_OUTPUT_DIR_COMMAND):
        run.legacy_output_dir = value
        return
    raise typer.BadParameter(f"{value!r} is not one of {', '.join(output.FORMATS)}")


def _complete_format(incomplete: str) -> list[str]:
    return [f for f in output.FORMATS if f.startswith(incomplete)]


def _set_quiet(ctx: typer.Context, value: bool) -> None:
    if value:
        of(ctx).output.quiet = True


def _set_json(ctx: typer.Context, value: bool) -> None:
    if value:
        of(ctx).output.format = "json"


def _common(
    fmt: Annotated[
        str | None,
        typer.Option(
            "-o",
            "--output",
            help="Output format: table (compact text, the default), wide (text, every column, "
            "nothing cut), json or yaml (one document {ok, command, data, error}).",
            metavar="FORMAT",
            callback=_set_format,
            autocompletion=_complete_format,
            expose_value=False,
        ),
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option(
            "-q",
            "--quiet",
            help="Print nothing on stdout on success (text formats); errors still go to stderr "
            "and the exit code is unchanged. No effect with -o json or yaml.",
            callback=_set_quiet,
            expose_value=False,
        ),
    ] = False,
    json: Annotated[
        bool, typer.Option("--json", help=JSON_HELP, callback=_set_json, expose_value=False)
    ] = False,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help=TZ_HELP, metavar="ZONE", callback=_remember_tz, expose_value=False
        ),
    ] = None,
) -> None:
    """The output options every command takes (only their definitions are used)."""


@cache
def _common_params() -> tuple[_click.Parameter, ...]:
    holder = typer.Typer()
    holder.command()(_common)
    return tuple(typer.main.get_command(holder).params)


def common_options(names: set[str]) -> list[_click.Parameter]:
    """Click parameters for ``-o/--output``, ``-q/--quiet``, ``--json`` and ``--tz`` (those
    of ``names``), as Typer builds them; built once, a copy for each command."""
    return [copy.copy(p) for p in _common_params() if p.name in names]


@cache
def output_command(path: str, shows_times: bool) -> type[TyperCommand]:
    """The command class of ``ncctl PATH``: its own parameters, then the output options it
    lacks (``--tz`` only for a command that shows times)."""

    class OutputCommand(TyperCommand):
        def __init__(self, name: str | None, **kwargs: Any) -> None:
            super().__init__(name, **kwargs)
            own = {opt for p in self.params for opt in p.opts}
            spelled = {"fmt": {"-o", "--output"}, "quiet": {"-q", "--quiet"}, "json": {"--json"}}
            spelled |= {"tz": {"--tz"}} if shows_times else {}
            wanted = {name for name, opts in spelled.items() if not opts & own}
            self.params.extend(common_options(wanted))

    OutputCommand.__qualname__ = f"OutputCommand[{path}]"
    return OutputCommand


class OutputGroup(TyperGroup):
    """The root group: ``-o/--output``, ``-q/--quiet`` and ``--json`` are accepted before the
    command too (``ncctl -o json status``), as after it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.params.extend(common_options({"fmt", "quiet", "json"}))


OverrideOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Act on a simulated clock although the configuration is not a development one "
        "(needs --reason).",
    ),
]
"""``--force`` of a state-changing command that has no other guard to override."""
