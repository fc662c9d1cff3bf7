"""Views of ``ncctl audit``: journaled actions, and the check of the hash chain."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import Column, print_table, view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.errors import NcctlError
    from ncctl.journal.check import VerifyResult


@dataclass(frozen=True)
class AuditLog:
    journal: Path
    since: dt.datetime | None
    zone: ZoneInfo
    entries: list[dict[str, Any]]


@dataclass(frozen=True)
class AuditVerify:
    journal: Path
    result: VerifyResult
    notes: list[str]
    """What the exported heads could not say (a destination not reachable...)."""

    @property
    def warnings(self) -> list[str]:
        return self.notes + self.result.warnings

    def failure(self) -> NcctlError | None:
        if self.result.ok:
            return None
        from ncctl.errors import RefusedError

        r = self.result
        return RefusedError(
            f"journal {self.journal} is broken at line {r.broken_line}: {r.problem} "
            f"(caught by the {r.anchor})",
            hint="keep the journal, journal.sqlite and the archives as evidence and investigate "
            "who changed them; `ncctl audit verify --json` lists every problem",
            code="journal.broken",
        )


def clock_mark(clock: object) -> str:
    """The clock column of ``audit log``: ``sim`` for an action on a simulated clock (with the
    simulated time), ``sim!`` when it was forced on a non-development configuration; empty on
    the machine's clock and for lines older than the field."""
    if not isinstance(clock, dict) or clock.get("kind") != "simulated":
        return ""
    mark = "sim!" if clock.get("override") else "sim"
    at = clock.get("at")
    return f"{mark} {str(at)[:16]}" if at else mark


def _arguments(rec: dict[str, Any]) -> str:
    """The arguments of a journaled action, as the wide view shows them."""
    import json

    args = rec.get("args") or []
    text = " ".join(map(str, args)) if isinstance(args, list) else None
    return text if text is not None else json.dumps(args, sort_keys=True)


LOG_COLUMNS = (
    *(Column(name) for name in ("time", "clock", "user", "command", "outcome", "reason")),
    Column("arguments", wide_only=True),
)


def log_text(result: AuditLog, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.times import local, print_zone

    zone = result.zone
    print_zone(console, zone)
    if result.since is not None:
        console.print(f"since {local(result.since, zone)}", markup=False, highlight=False)
    if not result.entries:
        console.print("no journaled actions")
        return
    rows = (
        [
            local(str(rec.get("time", "")), zone),
            clock_mark(rec.get("clock")),
            str(rec.get("user", "")),
            str(rec.get("command", "")),
            str(rec.get("outcome", "")),
            str(rec.get("reason") or ""),
            _arguments(rec),
        ]
        for rec in result.entries
    )
    print_table(LOG_COLUMNS, rows, console, out.wide)


@view(AuditLog, log_text)
def log_data(result: AuditLog) -> dict[str, Any]:
    return {
        "journal": str(result.journal),
        "since": result.since.isoformat() if result.since is not None else None,
        "zone": result.zone.key,
        "entries": result.entries,
    }


def verify_text(result: AuditVerify, console: Console, out: OutputOptions) -> None:
    r, path = result.result, result.journal
    if r.ok:
        console.print(f"[green]ok[/green] {path}: {r.lines} lines, chain intact")
    else:
        console.print(f"[red]BROKEN[/red] {path}: {len(r.problems)} problem(s)")
        for p in r.problems:
            where = f"line {p.line}: " if p.line is not None else ""
            console.print(f"    {where}{p.problem} [caught by {p.anchor}]", markup=False)
    for a in r.anchors:
        mark = {True: "[green]agrees[/green]", False: "[red]differs[/red]"}.get(
            a["ok"], "[dim]none[/dim]"
        )
        console.print(f"  {mark} {a['anchor']}: ", end="")
        console.print(a["detail"], markup=False)


@view(AuditVerify, verify_text)
def verify_data(result: AuditVerify) -> dict[str, Any]:
    r = result.result
    return {
        "journal": str(result.journal),
        "lines": r.lines,
        "intact": r.ok,
        "broken_line": r.broken_line,
        "problem": r.problem or None,
        "anchor": r.anchor,
        "head": r.head.as_dict() if r.head else None,
        "anchors": r.anchors,
        "problems": [p.as_dict() for p in r.problems],
    }
