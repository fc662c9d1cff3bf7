"""``ncctl logs …``: rotate, upload, status and prune of audit, trade and ION files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli.command import command
from ncctl.cli.humanize import human_size
from ncctl.cli.options import DryRunOpt, OverrideOpt, ReasonOpt

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.logs import LogsPrune, LogsRotation, LogsStatus, LogsUpload
    from ncctl.logs.manifest import Manifest
    from ncctl.logs.upload import Pending, UploadOutcome

from ncctl.logs.upload import ProgressSink

app = typer.Typer(
    help="Audit trail, trade log and ION files: rotation, upload, status, pruning.",
    no_args_is_help=True,
)


@contextmanager
def _locked_manifest(
    ctx: CommandContext, *, read_only: bool = False, rebuild: bool = False
) -> Iterator[Manifest]:
    from ncctl.logs.manifest import locked_manifest

    cfg = ctx.config().config
    with locked_manifest(
        cfg.logs, cfg.state_dir, ctx.command, read_only=read_only, rebuild=rebuild
    ) as manifest:
        yield manifest


def _held_zone(ctx: CommandContext, held: list[dict[str, Any]]) -> ZoneInfo | None:
    """The zone the text shows the times of held files in (none held: no zone needed)."""
    return ctx.display_zone() if held else None


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Rotate even a trade date older than the newest one already rotated (a clock "
        "moved back), or on a simulated clock of a non-development configuration; needs "
        "--reason.",
    ),
]


@command(app, "rotate")
def rotate(
    ctx: CommandContext,
    category: Annotated[
        str | None,
        typer.Option("--category", help="Only this category: audit, trade or ion.", metavar="C"),
    ] = None,
    dry_run: DryRunOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
) -> LogsRotation:
    """Rotate the live files of the trade date that closed last (once per trade date).

    A renamed file is compressed only once no process holds it open for writing; one still
    held is kept as it is and the run exits 75 (the next run tries again). A trade date
    older than the newest one already rotated is refused unless --force --reason."""
    from ncctl.cli.views.logs import LogsRotation
    from ncctl.components.lifecycle import backend_for
    from ncctl.errors import RefusedError
    from ncctl.journal import Journal, journal_path
    from ncctl.logs.journal_export import export_journal
    from ncctl.logs.rotation import Rotator
    from ncctl.logs.rotation_result import PAST_CODE, journal_rotation
    from ncctl.override import check_force

    check_force(force, reason, "a past trade date is rotated")
    if not dry_run:
        ctx.changing(force, reason)
    loaded = ctx.config()
    journal = Journal(journal_path(loaded.config.state_dir))
    args = [f"--category={category}"] if category else []
    args += ["--force"] if force else []
    with _locked_manifest(ctx, read_only=dry_run) as manifest:
        cfg = loaded.config
        rotator = Rotator(
            cfg.logs,
            ctx.engine(),
            manifest,
            ctx.now(),
            lambda owner: backend_for(owner, cfg.components, cfg.state_dir).reopen(),
        )
        try:
            run = rotator.run(category, dry_run=dry_run, force_reason=reason if force else None)
        except RefusedError as err:
            if err.code == PAST_CODE and not dry_run:
                journal_rotation(journal, ctx.command, args, refused=err)
            raise
        if not dry_run:
            run.results += export_journal(cfg.logs, cfg.state_dir, manifest, run.results)
    if not dry_run:
        journal_rotation(journal, ctx.command, args, run=run, reason=reason)
    return LogsRotation(run, dry_run, reason, _held_zone(ctx, run.held))


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

            from ncctl.cli.output import stderr_console

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=stderr_console(),
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


@command(app, "upload")
def upload(
    ctx: CommandContext,
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
) -> LogsUpload:
    """Upload every rotated file to its destinations, resuming and verifying each one.
    Archives on disk that the manifest does not know are adopted first when their .sha256
    sidecar matches; the others are reported and left alone.

    Exit 0 when every upload is verified; 75 when every failure is worth retrying (network,
    a stalled server, no space, a remote error): the next run resumes; 1 when one needs an
    operator (a refused key, an unknown host key, a conflicting remote file)."""
    from ncctl.cli.views.logs import LogsUpload
    from ncctl.errors import NcctlError, RefusedError, TemporaryError, UsageError
    from ncctl.journal import Journal, journal_path
    from ncctl.logs.inventory import unknown_failure
    from ncctl.logs.upload import Uploader

    ctx.changing(force, reason)
    cfg = ctx.config().config
    if destination is not None and destination not in cfg.destinations:
        raise UsageError(
            f"--destination {destination!r} is not configured",
            hint=f"configured: {', '.join(cfg.destinations) or 'none'}",
        )
    journal = Journal(journal_path(cfg.state_dir))  # refused before anything is sent
    shows_progress = ctx.output.shows_text
    with _locked_manifest(ctx, rebuild=rebuild) as manifest:
        uploader = Uploader(
            cfg.logs, cfg.destinations, manifest, destination, progress=_Progress(shows_progress)
        )
        outcomes = uploader.run()
    failed = [o for o in outcomes if o.state != "verified"]
    if outcomes:
        journal.append(
            ctx.command,
            [f"--destination={destination}"] if destination else [],
            "ok" if not failed else "failed",
            reason=reason,
            details={
                "verified": len(outcomes) - len(failed),
                "failed": len(failed),
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
    return LogsUpload(outcomes, uploader.adopted, uploader.not_adopted, failure)


@command(app, "status")
def status(ctx: CommandContext) -> LogsStatus:
    """Every archive with size, sha256 and state per destination; exit 1 when anything older
    than one trading day is not verified everywhere."""
    from ncctl.cli.views.logs import LogsStatus
    from ncctl.errors import RefusedError
    from ncctl.logs.inventory import inventory, unknown_archives, unknown_failure
    from ncctl.logs.manifest import open_manifest

    cfg = ctx.config().config
    manifest = open_manifest(cfg.logs, cfg.state_dir, read_only=True)
    try:
        inv = inventory(cfg.logs, manifest, ctx.engine(), ctx.now())
        unknown = [u.as_dict() for u in unknown_archives(cfg.logs, manifest)]
    finally:
        manifest.close()
    failure = unknown_failure(unknown)
    if inv.overdue:
        failure = RefusedError(
            f"{len(inv.overdue)} archive(s) older than {inv.last_trade_date} are not verified "
            "at every destination",
            hint="run `ncctl logs upload`; `last_error` says what went wrong",
            code="logs.overdue",
        )
    return LogsStatus(inv, unknown, failure, _held_zone(ctx, inv.held))


@command(app, "prune")
def prune(
    ctx: CommandContext,
    dry_run: DryRunOpt = False,
    force: OverrideOpt = False,
    reason: ReasonOpt = None,
) -> LogsPrune:
    """Delete local archives older than retain_days that every destination verified."""
    from ncctl.cli.views.logs import LogsPrune
    from ncctl.journal import Journal, journal_path
    from ncctl.logs.inventory import prune as prune_archives

    if not dry_run:
        ctx.changing(force, reason)
    cfg = ctx.config().config
    journal = None if dry_run else Journal(journal_path(cfg.state_dir))
    with _locked_manifest(ctx, read_only=dry_run) as manifest:
        removed = prune_archives(cfg.logs, manifest, ctx.now(), dry_run=dry_run)
    if removed and journal is not None:
        removed_files = [r["file"] for r in removed]
        journal.append(ctx.command, [], "ok", reason=reason, details={"removed": removed_files})
    return LogsPrune(dry_run, removed)
