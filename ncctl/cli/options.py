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
ReasonOpt = Annotated[
    str | None,
    typer.Option("--reason", help="Why, recorded in the journal.", metavar="TEXT"),
]
