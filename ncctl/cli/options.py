"""Option aliases shared by every command."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print exactly one JSON document {ok, command, data, error} on stdout.",
    ),
]
TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Show times in this IANA zone (default: schedule.display_tz, America/Chicago).",
        metavar="ZONE",
    ),
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
OverrideOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Act on a simulated clock although the configuration is not a development one "
        "(needs --reason).",
    ),
]
"""``--force`` of a state-changing command that has no other guard to override."""
