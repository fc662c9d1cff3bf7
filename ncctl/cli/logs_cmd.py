"""``ncctl logs …``: rotate, upload, status and prune of audit, trade and ION files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.humanize import human_size
from ncctl.cli.options import DryRunOpt, JsonOpt, OverrideOpt, ReasonOpt
from ncctl.cli.times import display_zone, local, print_zone

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.logs.manifest import Manifest
    from ncctl.logs.upload import Pending, UploadOutcome

from ncctl.logs.upload import ProgressSink

app = typer.Typer(
    help="Audit trail, trade log and ION files: rotation, upload, status, pruning.",
    no_args_is_help=True,
)


@contextmanager
def _locked_manifest(
    command: str, *, read_only: bool = False, rebuild: bool = False
) -> Iterator[Manifest]:
    from ncctl.logs.manifest import locked_manifest

    cfg = STATE.config().config
    with locked_manifest(
        cfg.logs, cfg.state_dir, command, read_only=read_only, rebuild=rebuild
    ) as manifest:
        yield manifest


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Rotate even a trade date older than the newest one already rotated (a clock "
        "moved back), or on a simulated clock of a non-development configuration; needs "
        "--reason.",
    ),
]


def _print_held(console: Console, held: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    zone = display_zone() if held else None
    for h in held:
        since = local(h["since"], zone) if zone is not None else h["since"]
        text = (
            f"{h['category']} {h['trade_date']}: {h['file']} is {h['reason']} (since "
            f"{since}); kept uncompressed, never delete it"
        )
        console.print(f"[red]held[/red] {escape(text)}", highlight=False)


@app.command("rotate")
def rotate(
    category: Annotated[
        str | None,
        typer.Option("--category", help="Only this category: audit, trade or ion.", metavar="C"),
    ] = None,
    dry_run: DryRunOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    json: JsonOpt = False,
) -> None:
    """Rotate the live files of the trade date that closed last (once per trade date).

    A renamed file is compressed only once no process holds it open for writing; one still
    held is kept as it is and the run exits 75 (the next run tries again). A trade date
    older than the newest one already rotated is refused unless --force --reason."""
    from ncctl.components.lifecycle import backend_for
    from ncctl.errors import RefusedError
    from ncctl.journal import Journal, journal_path
    from ncctl.logs.journal_export import export_journal
    from ncctl.logs.rotation import Rotator
    from ncctl.logs.rotation_result import PAST_CODE, journal_rotation
    from ncctl.override import check_force

    output.begin("logs rotate", json)
    check_force(force, reason, "a past trade date is rotated")
    if not dry_run:
        STATE.changing("logs rotate", force, reason)
    loaded = STATE.config()
    journal = Journal(journal_path(loaded.config.state_dir))
    args = [f"--category={category}"] if category else []
    args += ["--force"] if force else []
    with _locked_manifest("logs rotate", read_only=dry_run) as manifest:
        cfg = loaded.config
        rotator = Rotator(
            cfg.logs,
            STATE.engine(),
            manifest,
            STATE.now(),
            lambda owner: backend_for(owner, cfg.components, cfg.state_dir, loaded.path).reopen(),
        )
        try:
            run = rotator.run(category, dry_run=dry_run, force_reason=reason if force else None)
        except RefusedError as err:
            if err.code == PAST_CODE and not dry_run:
                journal_rotation(journal, "logs rotate", args, refused=err)
            raise
        if not dry_run:
            run.results += export_journal(cfg.logs, cfg.state_dir, manifest, run.results)
    if not dry_run:
        journal_rotation(journal, "logs rotate", args, run=run, reason=reason)
    data: dict[str, Any] = {"dry_run": dry_run, **run.as_dict()}

    def draw(console: Console) -> None:
        if run.held:
            print_zone(console, display_zone())
        for item in run.resumed:
            console.print(f"[yellow]finished[/yellow] interrupted rotation: {item['archive']}")
        for name, newest in run.forced.items():
            console.print(f"[yellow]forced[/yellow] {name}: rotating before {newest} ({reason})")
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
                    digest = f["sha256"] if output.wide() else f"{f['sha256'][:16]}…"
                    size = f" {human_size(f['size'])}, sha256 {digest}"
                empty = " (empty day)" if f.get("empty") else ""
                empty += " (held back, see below)" if f.get("held") else ""
                console.print(f"    {f.get('archive')}{size}{empty}", markup=False)
        _print_held(console, run.held)

    failure = run.refused_error() or (None if dry_run else run.held_error())
    output.emit(data, draw, failure=failure)


class _Progress(ProgressSink):
    """A Rich progress bar on a TTY (stderr), plain lines otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.tty = enabled and sys.stderr.isatty()
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def start(self, total_bytes: int, files: int) -> None:
        if not self.enabled or not files:
            return
        if self.tty:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=output.stderr_console(),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("upload", total=total_bytes)
        else:
            sys.stderr.write(f"uploading {files} file(s), {human_size(total_bytes)}\n")

    def file(self, pending: Pending) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"{pending.destination}: {pending.item.name}")

    def advance(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, nbytes)

    def done(self, outcome: UploadOutcome) -> None:
        if not self.enabled:
            return
        line = f"{outcome.destination}: {outcome.file}: {outcome.state}"
        if outcome.error:
            line += f" ({outcome.error['message']})"
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            sys.stderr.write(line + "\n")

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@app.command("upload")
def upload(
    destination: Annotated[
        str | None,
        typer.Option("--destination", help="Only this destination.", metavar="D"),
    ] = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Make a new upload manifest when it is missing (moved aside) although "
            "archives with .sha256 sidecars are on disk.",
        ),
    ] = False,
    force: OverrideOpt = False,
    reason: ReasonOpt = None,
    json: JsonOpt = False,
) -> None:
    """Upload every rotated file to its destinations, resuming and verifying each one.
    Archives on disk that the manifest does not know are adopted first when their .sha256
    sidecar matches; the others are reported and left alone.

    Exit 0 when every upload is verified; 75 when every failure is worth retrying (network,
    a stalled server, no space, a remote error): the next run resumes; 1 when one needs an
    operator (a refused key, an unknown host key, a conflicting remote file)."""
    from ncctl.errors import NcctlError, RefusedError, TemporaryError, UsageError
    from ncctl.journal import Journal, journal_path
    from ncctl.logs.inventory import unknown_failure, unknown_lines
    from ncctl.logs.upload import Uploader

    output.begin("logs upload", json)
    STATE.changing("logs upload", force, reason)
    loaded = STATE.config()
    cfg = loaded.config
    if destination is not None and destination not in cfg.destinations:
        raise UsageError(
            f"--destination {destination!r} is not configured",
            hint=f"configured: {', '.join(cfg.destinations) or 'none'}",
        )
    journal = Journal(journal_path(cfg.state_dir))  # refused before anything is sent
    with _locked_manifest("logs upload", rebuild=rebuild) as manifest:
        uploader = Uploader(
            cfg.logs,
            cfg.destinations,
            manifest,
            destination,
            progress=_Progress(output.shows_text()),
        )
        outcomes = uploader.run()
    failed = [o for o in outcomes if o.state != "verified"]
    data = {
        "uploads": [o.as_dict() for o in outcomes],
        "verified": len(outcomes) - len(failed),
        "failed": len(failed),
        "adopted": uploader.adopted,
        "not_adopted": uploader.not_adopted,
    }
    if outcomes:
        journal.append(
            "logs upload",
            [f"--destination={destination}"] if destination else [],
            "ok" if not failed else "failed",
            reason=reason,
            details={
                "verified": data["verified"],
                "failed": data["failed"],
                "adopted": [a["file"] for a in uploader.adopted],
            },
        )
    failure: NcctlError | None = None
    if failed:
        temporary = all(o.retryable for o in failed)
        first = failed[0].error or {}
        cls = TemporaryError if temporary else RefusedError
        failure = cls(
            f"{len(failed)} upload(s) not verified; first: {first.get('message', '')}",
            hint=first.get("hint") or "see `ncctl logs status`; the next run retries",
            code="upload.retry" if temporary else "upload.failed",
        )
    failure = failure or unknown_failure(uploader.not_adopted)

    def draw(console: Console) -> None:
        for line in unknown_lines(uploader.adopted, adopted=True) + unknown_lines(
            uploader.not_adopted
        ):
            console.print(line, markup=False, highlight=False)
        if not outcomes:
            console.print("nothing to upload: every archive is verified at every destination")
        for o in outcomes:
            mark = "[green]verified[/green]" if o.state == "verified" else "[red]failed[/red]"
            how = f" by {o.verified_by}" if o.verified_by else ""
            resumed = (
                f", resumed at {human_size(o.resumed_from)}"
                if o.resumed_from and not o.already_present
                else ""
            )
            present = " (already there)" if o.already_present else ""
            console.print(f"{mark}{how} {o.destination}: {o.file}{present}{resumed}")

    output.emit(data, draw, failure=failure)


@app.command("status")
def status(json: JsonOpt = False) -> None:
    """Every archive with size, sha256 and state per destination; exit 1 when anything older
    than one trading day is not verified everywhere."""
    from ncctl.errors import RefusedError
    from ncctl.logs.inventory import inventory, unknown_archives, unknown_failure, unknown_lines
    from ncctl.logs.manifest import open_manifest

    output.begin("logs status", json)
    cfg = STATE.config().config
    manifest = open_manifest(cfg.logs, cfg.state_dir, read_only=True)
    try:
        inv = inventory(cfg.logs, manifest, STATE.engine(), STATE.now())
        unknown = [u.as_dict() for u in unknown_archives(cfg.logs, manifest)]
    finally:
        manifest.close()
    data = {
        "last_trade_date": inv.last_trade_date,
        "files": inv.files,
        "overdue": inv.overdue,
        "unknown": unknown,
        "held": inv.held,
        "warnings": inv.warnings,
    }
    failure = unknown_failure(unknown)
    if inv.overdue:
        failure = RefusedError(
            f"{len(inv.overdue)} archive(s) older than {inv.last_trade_date} are not verified "
            "at every destination",
            hint="run `ncctl logs upload`; `last_error` says what went wrong",
            code="logs.overdue",
        )

    def draw(console: Console) -> None:
        from rich.markup import escape
        from rich.table import Table

        if inv.held:
            print_zone(console, display_zone())
        for warning in inv.warnings:
            console.print(f"[yellow]warning[/yellow] {warning}", highlight=False)
        _print_held(console, inv.held)
        for line in unknown_lines(unknown):
            console.print(line, markup=False, highlight=False)
        if not inv.files:
            console.print("no archives yet (`ncctl logs rotate` makes them)")
            return
        wide = output.wide()
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

    output.emit(data, draw, failure=failure)


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


@app.command("prune")
def prune(
    dry_run: DryRunOpt = False,
    force: OverrideOpt = False,
    reason: ReasonOpt = None,
    json: JsonOpt = False,
) -> None:
    """Delete local archives older than retain_days that every destination verified."""
    from ncctl.journal import Journal, journal_path
    from ncctl.logs.inventory import prune as prune_archives

    output.begin("logs prune", json)
    if not dry_run:
        STATE.changing("logs prune", force, reason)
    cfg = STATE.config().config
    journal = None if dry_run else Journal(journal_path(cfg.state_dir))
    with _locked_manifest("logs prune", read_only=dry_run) as manifest:
        removed = prune_archives(cfg.logs, manifest, STATE.now(), dry_run=dry_run)
    if removed and journal is not None:
        removed_files = [r["file"] for r in removed]
        journal.append("logs prune", [], "ok", reason=reason, details={"removed": removed_files})

    def draw(console: Console) -> None:
        verb = "would delete" if dry_run else "deleted"
        if not removed:
            console.print("nothing to prune")
        for r in removed:
            console.print(f"{verb} {r['file']}", markup=False)

    output.emit({"dry_run": dry_run, "removed": removed}, draw)
