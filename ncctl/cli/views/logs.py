"""Views of ``ncctl logs …``: rotation, uploads, the archive inventory and pruning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.errors import NcctlError
    from ncctl.logs.inventory import Inventory
    from ncctl.logs.rotation_result import RotationRun
    from ncctl.logs.upload import UploadOutcome


def _held_text(held: list[dict[str, Any]], zone: ZoneInfo | None, console: Console) -> None:
    """Files kept uncompressed because a process still holds them (after their zone line)."""
    from rich.markup import escape

    from ncctl.cli.times import local

    for h in held:
        since = local(h["since"], zone) if zone is not None else h["since"]
        text = (
            f"{h['category']} {h['trade_date']}: {h['file']} is {h['reason']} (since "
            f"{since}); kept uncompressed, never delete it"
        )
        console.print(f"[red]held[/red] {escape(text)}", highlight=False)


def _zone_line(held: list[dict[str, Any]], zone: ZoneInfo | None, console: Console) -> None:
    from ncctl.cli.times import print_zone

    if held and zone is not None:
        print_zone(console, zone)


@dataclass(frozen=True)
class LogsRotation:
    """What ``logs rotate`` did (or would do, ``--dry-run``)."""

    run: RotationRun
    dry_run: bool
    reason: str | None
    zone: ZoneInfo | None
    """The zone of the text's times (set when files are held)."""

    def failure(self) -> NcctlError | None:
        return self.run.refused_error() or (None if self.dry_run else self.run.held_error())


def rotation_text(result: LogsRotation, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.humanize import human_size

    run = result.run
    _zone_line(run.held, result.zone, console)
    for item in run.resumed:
        console.print(f"[yellow]finished[/yellow] interrupted rotation: {item['archive']}")
    for name, newest in run.forced.items():
        console.print(f"[yellow]forced[/yellow] {name}: rotating before {newest} ({result.reason})")
    for r in run.results:
        mark = {
            "rotated": "[green]ok[/green]",
            "planned": "[cyan]plan[/cyan]",
            "refused": "[red]refused[/red]",
        }.get(r.action, "[dim]no-op[/dim]")
        console.print(f"{mark} {r.category}: {r.message}")
        for w in r.warnings:
            console.print(f"    [yellow]warning[/yellow] {w}")
        for f in r.files:
            size = ""
            if "sha256" in f:
                digest = f["sha256"] if out.wide else f"{f['sha256'][:16]}…"
                size = f" {human_size(f['size'])}, sha256 {digest}"
            empty = " (empty day)" if f.get("empty") else ""
            empty += " (held back, see below)" if f.get("held") else ""
            console.print(f"    {f.get('archive')}{size}{empty}", markup=False)
    _held_text(run.held, result.zone, console)


@view(LogsRotation, rotation_text)
def rotation_data(result: LogsRotation) -> dict[str, Any]:
    return {"dry_run": result.dry_run, **result.run.as_dict()}


@dataclass(frozen=True)
class LogsUpload:
    """What ``logs upload`` sent, verified and adopted."""

    outcomes: list[UploadOutcome]
    adopted: list[dict[str, Any]]
    not_adopted: list[dict[str, Any]]
    error: NcctlError | None

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.state != "verified")

    def failure(self) -> NcctlError | None:
        return self.error


def upload_text(result: LogsUpload, console: Console, out: OutputOptions) -> None:
    from ncctl.cli.humanize import human_size
    from ncctl.logs.inventory import unknown_lines

    lines = unknown_lines(result.adopted, adopted=True) + unknown_lines(result.not_adopted)
    for line in lines:
        console.print(line, markup=False, highlight=False)
    if not result.outcomes:
        console.print("nothing to upload: every archive is verified at every destination")
    for o in result.outcomes:
        mark = "[green]verified[/green]" if o.state == "verified" else "[red]failed[/red]"
        how = f" by {o.verified_by}" if o.verified_by else ""
        resumed = (
            f", resumed at {human_size(o.resumed_from)}"
            if o.resumed_from and not o.already_present
            else ""
        )
        present = " (already there)" if o.already_present else ""
        console.print(f"{mark}{how} {o.destination}: {o.file}{present}{resumed}")


@view(LogsUpload, upload_text)
def upload_data(result: LogsUpload) -> dict[str, Any]:
    return {
        "uploads": [o.as_dict() for o in result.outcomes],
        "verified": len(result.outcomes) - result.failed,
        "failed": result.failed,
        "adopted": result.adopted,
        "not_adopted": result.not_adopted,
    }


@dataclass(frozen=True)
class LogsStatus:
    """Every archive with its state per destination (``logs status``)."""

    inventory: Inventory
    unknown: list[dict[str, Any]]
    """Archives on disk the manifest does not know (``UnknownArchive.as_dict``)."""
    error: NcctlError | None
    zone: ZoneInfo | None
    """The zone of the text's times (set when files are held)."""

    def failure(self) -> NcctlError | None:
        return self.error


def status_text(result: LogsStatus, console: Console, out: OutputOptions) -> None:
    from rich.markup import escape

    from ncctl.cli.humanize import human_size
    from ncctl.logs.inventory import unknown_lines

    inv = result.inventory
    _zone_line(inv.held, result.zone, console)
    for warning in inv.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}", highlight=False)
    _held_text(inv.held, result.zone, console)
    for line in unknown_lines(result.unknown):
        console.print(line, markup=False, highlight=False)
    if not inv.files:
        console.print("no archives yet (`ncctl logs rotate` makes them)")
        return
    from rich.table import Table

    wide = out.wide
    table = Table(box=None, pad_edge=False)
    cols = ("trade date", "category", "file", "size", "bytes", "sha256", "destinations")
    for col in cols if wide else ("trade date", "file", "size", "sha256", "destinations"):
        table.add_column(col, no_wrap=True)
    for f in inv.files:
        dests = ", ".join(
            f"{escape(name)}="
            + ("[green]verified[/green]" if d["state"] == "verified" else escape(d["state"]))
            for name, d in f["destinations"].items()
        )
        sha = f["sha256"] or ""
        row = [
            f["trade_date"],
            escape(f["file"] if wide else f["file"].rsplit("/", 1)[-1]),
            human_size(f["size"]),
            sha if wide else sha[:12],
            dests,
        ]
        if wide:
            row[1:1] = [f["category"]]
            row[4:4] = [str(f["size"] if f["size"] is not None else "")]
        table.add_row(*row)
    console.print(table)
    for line in failure_lines(inv.files):
        console.print(line, markup=False, highlight=False)


@view(LogsStatus, status_text)
def status_data(result: LogsStatus) -> dict[str, Any]:
    inv = result.inventory
    return {
        "last_trade_date": inv.last_trade_date,
        "files": inv.files,
        "overdue": inv.overdue,
        "unknown": result.unknown,
        "held": inv.held,
        "warnings": inv.warnings,
    }


def failure_lines(files: list[dict[str, Any]]) -> list[str]:
    """One line per upload that went wrong: the file, the destination and the reason."""
    lines = []
    for f in files:
        for name, d in f["destinations"].items():
            if d.get("last_error") and d["state"] != "verified":
                tries = d.get("attempts") or 0
                lines.append(
                    f"{d['state']}: {f['file']} to {name} after {tries} attempt"
                    f"{'' if tries == 1 else 's'}: {d['last_error']}"
                )
    return lines


@dataclass(frozen=True)
class LogsPrune:
    """The archives ``logs prune`` deleted (or would delete, ``--dry-run``)."""

    dry_run: bool
    removed: list[dict[str, Any]]


def prune_text(result: LogsPrune, console: Console, out: OutputOptions) -> None:
    verb = "would delete" if result.dry_run else "deleted"
    if not result.removed:
        console.print("nothing to prune")
    for r in result.removed:
        console.print(f"{verb} {r['file']}", markup=False)


@view(LogsPrune, prune_text)
def prune_data(result: LogsPrune) -> dict[str, Any]:
    return {"dry_run": result.dry_run, "removed": result.removed}
