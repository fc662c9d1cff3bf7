"""``ncctl audit …``: read and verify the journal of state-changing actions."""

from __future__ import annotations

import json as jsonlib
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt
from ncctl.cli.times import display_zone, local, print_zone

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="The journal: every state-changing action, hash-chained.", no_args_is_help=True
)


@app.command("log")
def log(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only actions at or after this time, ISO 8601; without an offset it is in "
            "the display zone (--tz, else schedule.display_tz).",
            metavar="TIME",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="At most this many, the latest.", min=1)
    ] = 50,
    json: JsonOpt = False,
) -> None:
    """List journaled actions, oldest first."""
    from ncctl.journal import Journal, journal_path
    from ncctl.schedule.timeparse import parse_instant

    output.begin("audit log", json)
    cfg = STATE.config().config
    zone = display_zone()
    since_ns = None
    since_at = None
    if since is not None:
        since_at = parse_instant(since, zone, "--since")
        since_ns = int(since_at.timestamp() * 1e9)
    entries = [
        e.record
        for e in Journal(journal_path(cfg.state_dir)).entries()
        if since_ns is None or e.ts_ns >= since_ns
    ][-limit:]

    def draw(console: Console) -> None:
        from rich.markup import escape
        from rich.table import Table

        print_zone(console, zone)
        if since_at is not None:
            console.print(f"since {local(since_at, zone)}", markup=False, highlight=False)
        if not entries:
            console.print("no journaled actions")
            return
        table = Table(box=None, pad_edge=False)
        wide = output.wide()
        cols = ("time", "clock", "user", "command", "outcome", "reason")
        for col in (*cols, "arguments") if wide else cols:
            table.add_column(col, no_wrap=True)
        for rec in entries:
            row = [
                local(str(rec.get("time", "")), zone),
                clock_mark(rec.get("clock")),
                str(rec.get("user", "")),
                str(rec.get("command", "")),
                str(rec.get("outcome", "")),
                str(rec.get("reason") or ""),
            ]
            if wide:
                args = rec.get("args") or []
                text = " ".join(map(str, args)) if isinstance(args, list) else None
                row.append(text if text is not None else jsonlib.dumps(args, sort_keys=True))
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)

    data: dict[str, Any] = {
        "journal": str(journal_path(cfg.state_dir)),
        "since": since_at.isoformat() if since_at is not None else None,
        "zone": zone.key,
        "entries": entries,
    }
    output.emit(data, draw)


def clock_mark(clock: object) -> str:
    """The clock column of ``audit log``: ``sim`` for an action on a simulated clock (with the
    simulated time), ``sim!`` when it was forced on a non-development configuration; empty on
    the machine's clock and for lines older than the field."""
    if not isinstance(clock, dict) or clock.get("kind") != "simulated":
        return ""
    mark = "sim!" if clock.get("override") else "sim"
    at = clock.get("at")
    return f"{mark} {str(at)[:16]}" if at else mark


@app.command("verify")
def verify(json: JsonOpt = False) -> None:
    """Check the hash chain and the head anchored outside the journal (state DB, exported
    heads); exit 1 naming the first broken line and the anchor that caught it."""
    from ncctl.journal import journal_path
    from ncctl.journal import verify as verify_chain
    from ncctl.logs.journal_export import exported_heads

    output.begin("audit verify", json)
    cfg = STATE.config().config
    path = journal_path(cfg.state_dir)
    heads, notes = exported_heads(cfg)
    result = verify_chain(path, heads)
    data = {
        "journal": str(path),
        "lines": result.lines,
        "intact": result.ok,
        "broken_line": result.broken_line,
        "problem": result.problem or None,
        "anchor": result.anchor,
        "head": result.head.as_dict() if result.head else None,
        "anchors": result.anchors,
        "problems": [p.as_dict() for p in result.problems],
    }

    def draw(console: Console) -> None:
        if result.ok:
            console.print(f"[green]ok[/green] {path}: {result.lines} lines, chain intact")
        else:
            console.print(f"[red]BROKEN[/red] {path}: {len(result.problems)} problem(s)")
            for p in result.problems:
                where = f"line {p.line}: " if p.line is not None else ""
                console.print(f"    {where}{p.problem} [caught by {p.anchor}]", markup=False)
        for a in result.anchors:
            mark = {True: "[green]agrees[/green]", False: "[red]differs[/red]"}.get(
                a["ok"], "[dim]none[/dim]"
            )
            console.print(f"  {mark} {a['anchor']}: ", end="")
            console.print(a["detail"], markup=False)

    failure = None
    if not result.ok:
        from ncctl.errors import RefusedError

        failure = RefusedError(
            f"journal {path} is broken at line {result.broken_line}: {result.problem} "
            f"(caught by the {result.anchor})",
            hint="keep the journal, journal.sqlite and the archives as evidence and investigate "
            "who changed them; `ncctl audit verify --json` lists every problem",
            code="journal.broken",
        )
    output.emit(data, draw, failure=failure, warnings=notes + result.warnings)
