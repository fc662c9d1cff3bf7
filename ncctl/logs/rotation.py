"""Daily rotation of the audit trail, trade log and ION file.

For each category, once per trade date (the date of the session that closed last):

1. record the intent in the manifest (``rotating``), with the archive name
   ``<stem>.<YYYYMMDD>[.<n>]<ext>`` in the category's archive directory;
2. rename the live file there (O(1): never a copy; the archive must be on the same file
   system) — or, with ``mode = "copytruncate"``, copy it and truncate it in place, losing what
   the writer appends in between;
3. signal the owner to reopen (SIGHUP) and wait for the new live file to appear;
4. compress into the final archive while hashing it, fsync, rename; write the ``.sha256``
   sidecar; fsync the directory; mark it ``compressed`` and queue it for every destination.

A day with no live file is recorded with an empty archive, not skipped. Every step can be
interrupted (even by SIGKILL) and the next run finishes it from the manifest.
"""

from __future__ import annotations

import datetime as dt
import errno
import glob
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.config import LogCategory, NcctlConfig, write_atomic
from ncctl.crashpoints import crashpoint
from ncctl.errors import CantCreateError, TemporaryError, UnavailableError
from ncctl.logs.compress import SUFFIX, compress_file
from ncctl.logs.destinations import fsync_dir, sha256_of
from ncctl.logs.manifest import FileRow, Manifest
from ncctl.schedule import ScheduleEngine

POLL_S = 0.02


def last_closed_trade_date(engine: ScheduleEngine, now: dt.datetime) -> dt.date | None:
    """The trade date of the session that closed last at or before ``now``."""
    start = now - dt.timedelta(days=21)
    closes = [
        t
        for t in engine.transitions(start, now + dt.timedelta(microseconds=1))
        if t.event == "market.closed"
    ]
    if not closes:
        return None
    return closes[-1].at.astimezone(engine.zone).date()


def archive_name(live: Path, trade_date: dt.date, n: int) -> str:
    """``<stem>.<YYYYMMDD>[.<n>]<ext>``: audit.csv -> audit.20261125.csv."""
    stem, ext = live.stem, live.suffix
    seq = f".{n}" if n else ""
    return f"{stem}.{trade_date:%Y%m%d}{seq}{ext}"


@dataclass
class CategoryResult:
    category: str
    trade_date: str | None
    action: str  # rotated | already | planned | nothing
    files: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "trade_date": self.trade_date,
            "action": self.action,
            "files": self.files,
            "message": self.message,
            "warnings": self.warnings,
        }


class Rotator:
    """Rotates the configured categories, resuming whatever an earlier run left unfinished."""

    def __init__(
        self,
        config: NcctlConfig,
        engine: ScheduleEngine,
        manifest: Manifest,
        now: dt.datetime,
        config_path: Path | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.manifest = manifest
        self.now = now
        self.config_path = config_path

    # -- helpers --------------------------------------------------------------------------

    def _live_files(self, cat: LogCategory) -> list[Path]:
        pattern = cat.path
        if glob.has_magic(pattern):
            return sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())  # noqa: PTH207
        path = Path(pattern)
        return [path] if path.exists() else []

    def _reopen(self, name: str, cat: LogCategory, live: Path) -> str:
        """Signal the owner to reopen; wait for the new live file. Returns a note."""
        if cat.owner is None or cat.mode == "copytruncate":
            return ""
        from ncctl.components.lifecycle import backend_for

        backend = backend_for(cat.owner, self.config, self.config_path)
        if not backend.reopen():
            return f"{cat.owner} is not running: nothing to reopen"
        from ncctl.components.process import wait_until

        if not wait_until(live.exists, cat.reopen_timeout_s):
            raise UnavailableError(
                f"logs.{name}: {cat.owner} did not reopen {live} within "
                f"{cat.reopen_timeout_s:g} s of SIGHUP",
                hint="check that the component reopens its files on SIGHUP; the rotated "
                "file is kept and the next run finishes the rotation",
                code="rotate.no_reopen",
            )
        return f"{cat.owner} reopened {live.name}"

    def _archive_dir(self, name: str) -> Path:
        directory = self.config.logs.archive_for(name)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CantCreateError(
                f"{directory}: cannot create the archive directory: {exc.strerror}",
                hint=f"check logs.archive_dir (or logs.{name}.archive_dir) and its permissions",
            ) from None
        return directory

    def _unique_archive(self, directory: Path, live: Path, trade_date: dt.date) -> Path:
        taken = self.manifest.archive_names()
        for n in range(1000):
            candidate = directory / archive_name(live, trade_date, n)
            finals = [
                candidate,
                candidate.with_name(candidate.name + ".gz"),
                candidate.with_name(candidate.name + ".zst"),
            ]
            if not any(str(p) in taken or p.exists() for p in finals):
                return candidate
        raise CantCreateError(
            f"{directory}: no free archive name for {live.name} on {trade_date}",
            hint="clean up the archive directory",
        )

    # -- steps ----------------------------------------------------------------------------

    def _move(self, name: str, cat: LogCategory, row: FileRow) -> None:
        """Step 2 (idempotent): the live file becomes the archive."""
        live, archive = Path(row.live_path), Path(row.archive_path)
        if archive.exists():
            if cat.mode == "copytruncate" and live.exists():
                self._truncate_after_crash(live, archive)
            return  # moved before a crash
        if row.empty or not live.exists():
            archive.touch()
            fsync_dir(archive.parent)
            return
        try:
            if cat.mode == "copytruncate":
                tmp = archive.with_name(f".{archive.name}.tmp")
                try:
                    with live.open("rb") as src, tmp.open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1024 * 1024)
                        dst.flush()
                        os.fsync(dst.fileno())
                    tmp.replace(archive)
                except OSError:
                    tmp.unlink(missing_ok=True)
                    raise
                fsync_dir(archive.parent)
                crashpoint("rotate.before_truncate")
                os.truncate(live, 0)
            else:
                live.rename(archive)
                fsync_dir(archive.parent)
                if live.parent != archive.parent:
                    fsync_dir(live.parent)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise CantCreateError(
                    f"logs.{name}: {live} and {archive.parent} are on different file systems",
                    hint="put the archive directory on the live file's file system: rotation "
                    "renames, it never copies",
                    code="rotate.cross_device",
                ) from None
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise TemporaryError(
                    f"logs.{name}: cannot write {archive}: {exc.strerror}",
                    hint=f"free space under {archive.parent}; the live log was not touched",
                    code="rotate.no_space",
                ) from None
            raise CantCreateError(
                f"logs.{name}: cannot move {live} to {archive}: {exc.strerror}",
                hint="check both directories' permissions",
            ) from None

    @staticmethod
    def _truncate_after_crash(live: Path, archive: Path) -> None:
        """A copy finished but the truncation did not: truncate only if nothing was appended
        since (same size and content). Otherwise keep the live file: its copied rows will be
        archived twice, which is better than losing the rows appended after the copy."""
        if live.stat().st_size == archive.stat().st_size and sha256_of(live) == sha256_of(archive):
            os.truncate(live, 0)

    def _finish(self, name: str, cat: LogCategory, row: FileRow) -> dict[str, Any]:
        """Steps 3-4 for a row in ``rotating`` or ``rotated`` state."""
        notes: list[str] = []
        if row.state == "rotating":
            self._move(name, cat, row)
            crashpoint("rotate.after_rename")
            self.manifest.set_file_state(row.id, "rotated")
            if not row.empty:
                note = self._reopen(name, cat, Path(row.live_path))
                if note:
                    notes.append(note)
        archive, final = Path(row.archive_path), Path(row.final_path)
        if archive == final:
            size, digest = archive.stat().st_size, sha256_of(archive)
        elif final.exists() and not archive.exists():
            size, digest = final.stat().st_size, sha256_of(final)  # compressed before a crash
        else:
            size, digest = compress_file(archive, final, cat.compress)
            crashpoint("rotate.after_compress")
        sidecar = final.with_name(final.name + ".sha256")
        write_atomic(sidecar, f"{digest}  {final.name}\n", mode=0o644)
        if archive != final:
            try:
                archive.unlink(missing_ok=True)
                fsync_dir(final.parent)
            except OSError as exc:
                raise CantCreateError(
                    f"{archive}: cannot remove: {exc.strerror}", hint=f"check {final.parent}"
                ) from None
        with self.manifest.transaction():
            self.manifest.set_file_state(row.id, "compressed", size=size, sha256=digest)
            self.manifest.ensure_uploads(row.id, list(cat.destinations))
        return {
            "archive": str(final),
            "size": size,
            "sha256": digest,
            "empty": row.empty,
            "notes": notes,
        }

    # -- the command ----------------------------------------------------------------------

    def resume(self) -> list[dict[str, Any]]:
        """Finish every rotation an earlier run left half done."""
        done: list[dict[str, Any]] = []
        cats = self.config.logs.categories()
        for row in self.manifest.files("state IN ('rotating', 'rotated')"):
            cat = cats.get(row.category)
            if cat is None:
                continue
            info = self._finish(row.category, cat, row)
            done.append({"category": row.category, "trade_date": row.trade_date, **info})
        return done

    def rotate(self, only: str | None = None, dry_run: bool = False) -> list[CategoryResult]:
        cats = self.config.logs.categories()
        if only is not None and only not in cats:
            from ncctl.errors import UsageError

            raise UsageError(
                f"--category {only!r} is not configured",
                hint=f"configured: {', '.join(cats) or 'none (add [logs.audit] ...)'}",
            )
        trade_date = last_closed_trade_date(self.engine, self.now)
        results: list[CategoryResult] = []
        for name, cat in cats.items():
            if only is not None and name != only:
                continue
            if trade_date is None:
                results.append(
                    CategoryResult(name, None, "nothing", message="no session closed yet")
                )
                continue
            td = trade_date.isoformat()
            if self.manifest.rotated(name, td):
                results.append(
                    CategoryResult(name, td, "already", message=f"already rotated for {td}")
                )
                continue
            if self.manifest.files("category = ? AND trade_date = ?", (name, td)):
                # an earlier run rotated the files but stopped before recording it
                if not dry_run:
                    with self.manifest.transaction():
                        self.manifest.mark_rotated(name, td, 1)
                results.append(
                    CategoryResult(
                        name, td, "already", message=f"already rotated for {td} (interrupted run)"
                    )
                )
                continue
            lives = self._live_files(cat)
            result = CategoryResult(name, td, "planned" if dry_run else "rotated")
            directory = self.config.logs.archive_for(name) if dry_run else self._archive_dir(name)
            placeholder = (
                Path(cat.path)
                if not glob.has_magic(cat.path)
                else Path(cat.path).parent / f"{name}{Path(cat.path).suffix}"
            )
            targets = lives or [placeholder]
            for live in targets:
                empty = live not in lives
                archive = (
                    directory / archive_name(live, trade_date, 0)
                    if dry_run
                    else self._unique_archive(directory, live, trade_date)
                )
                final = archive.with_name(archive.name + SUFFIX[cat.compress])
                if dry_run:
                    result.files.append({"live": str(live), "archive": str(final), "empty": empty})
                    continue
                with self.manifest.transaction():
                    row = self.manifest.add_file(
                        name,
                        trade_date=td,
                        live_path=str(live),
                        archive_path=str(archive),
                        final_path=str(final),
                        empty=empty,
                    )
                crashpoint("rotate.before_rename")
                info = self._finish(name, cat, row)
                result.files.append({"live": str(live), **info})
            if not dry_run:
                with self.manifest.transaction():
                    self.manifest.mark_rotated(name, td, len(targets))
                result.message = f"rotated {len(targets)} file(s) for {td}"
            else:
                result.message = f"would rotate {len(targets)} file(s) for {td}"
            results.append(result)
        return results
