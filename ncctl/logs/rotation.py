"""Daily rotation of the audit trail, trade log and ION file.

For each category, once per trade date (the date of the session that closed last):

1. record the intent in the manifest (``rotating``), with the archive name
   ``<stem>.<YYYYMMDD>[.<n>]<ext>`` in the category's archive directory;
2. rename the live file there (O(1): never a copy; the archive must be on the same file
   system) and record it ``rotated`` — or, with ``mode = "copytruncate"``, copy it and
   truncate it in place, losing what the writer appends in between;
3. wait until no process holds the renamed file open for writing (:mod:`ncctl.logs.inuse`):
   when one does, signal the owner to reopen (SIGHUP; not with ``reopen = "self"``) and check
   again until ``reopen_timeout_s``. A file still held then (or when nobody can tell) is kept
   exactly as it is, recorded as held, and the run ends with exit 75: the next run signals
   and checks again. A held file never holds back other categories or later trade dates;
4. compress into the final archive while hashing it, fsync, rename; write the ``.sha256``
   sidecar; remove the renamed file; fsync the directory; mark it ``compressed`` and queue it
   for every destination.

Step 3 runs on every run for every file still ``rotated``, those an interrupted run left
included. A day with no live file is recorded with an empty archive, not skipped. Every step
can be interrupted (even by SIGKILL) and the next run finishes it from the manifest.

A trade date older than the newest one already rotated for a category (a clock moved back)
is refused before anything changes, unless forced with a reason.
"""

from __future__ import annotations

import datetime as dt
import errno
import glob
import os
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl import floor
from ncctl.crashpoints import crashpoint
from ncctl.errors import CantCreateError, RefusedError, TemporaryError, UsageError
from ncctl.logs.compress import SUFFIX, compress_file
from ncctl.logs.destinations import fsync_dir, sha256_of
from ncctl.logs.inuse import FileId, Holder, scan
from ncctl.logs.manifest import FileRow, Manifest
from ncctl.logs.rotation_result import PAST_CODE, CategoryResult, RotationRun
from ncctl.logs.section import LogCategory, LogsConfig
from ncctl.logs.trade_dates import archive_name, last_closed_trade_date, newest_rotated
from ncctl.schedule import ScheduleEngine

POLL_S = 0.02


def is_regular(path: Path) -> bool:
    """A regular file, not through a symbolic link (ncctl rotates no link it did not make)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


@dataclass
class _Waiting:
    row: FileRow
    cat: LogCategory
    fid: FileId
    entry: dict[str, Any]


class Rotator:
    """Rotates the configured categories, resuming whatever an earlier run left unfinished.

    ``reopen(owner)`` asks the component ``owner`` to reopen its files (SIGHUP) and says
    whether it was running."""

    def __init__(
        self,
        logs: LogsConfig,
        engine: ScheduleEngine,
        manifest: Manifest,
        now: dt.datetime,
        reopen: Callable[[str], bool],
    ) -> None:
        self.logs = logs
        self.engine = engine
        self.manifest = manifest
        self.now = now
        self.reopen = reopen

    # -- helpers --------------------------------------------------------------------------

    def _live_files(self, cat: LogCategory, result: CategoryResult) -> list[Path]:
        """The category's live files; anything there that is not a regular file (a link, a
        FIFO, a directory) is listed in ``result.refused`` instead, and never opened."""
        pattern = cat.path
        if glob.has_magic(pattern):
            found = sorted(Path(p) for p in glob.glob(pattern))  # noqa: PTH207
        else:
            found = [Path(pattern)] if os.path.lexists(pattern) else []
        lives = []
        for path in found:
            if is_regular(path):
                lives.append(path)
            else:
                result.refused.append(str(path))
        if result.refused:
            result.action = "refused"
            result.message = f"not rotated: {result.refused[0]} is not a regular file"
        return lives

    def _archive_dir(self, name: str) -> Path:
        return floor.ensure_dir(self.logs.archive_for(name), f"logs.{name} archive directory")

    def _unique_archive(self, directory: Path, live: Path, trade_date: dt.date) -> Path:
        taken = self.manifest.archive_names()
        for n in range(1000):
            candidate = directory / archive_name(live, trade_date, n)
            finals = [
                candidate,
                candidate.with_name(candidate.name + ".gz"),
                candidate.with_name(candidate.name + ".zst"),
            ]
            if not any(str(p) in taken or os.path.lexists(p) for p in finals):
                return candidate
        raise CantCreateError(
            f"{directory}: no free archive name for {live.name} on {trade_date}",
            hint="clean up the archive directory",
        )

    def _selected(self, only: str | None) -> dict[str, LogCategory]:
        cats = self.logs.categories()
        if only is not None and only not in cats:
            raise UsageError(
                f"--category {only!r} is not configured",
                hint=f"configured: {', '.join(cats) or 'none (add [logs.audit] ...)'}",
            )
        return {n: c for n, c in cats.items() if only is None or n == only}

    def behind(self, trade_date: dt.date, names: list[str]) -> dict[str, str]:
        """The categories whose newest rotated trade date is after ``trade_date``."""
        out: dict[str, str] = {}
        for name in names:
            newest = newest_rotated(self.logs, self.manifest, name)
            if newest is not None and newest > trade_date:
                out[name] = newest.isoformat()
        return out

    # -- steps ----------------------------------------------------------------------------

    def _move(self, name: str, cat: LogCategory, row: FileRow) -> None:
        """Step 2 (idempotent): the live file becomes the archive."""
        live, archive = Path(row.live_path), Path(row.archive_path)
        if os.path.lexists(archive):
            if cat.mode == "copytruncate" and is_regular(live):
                self._truncate_after_crash(live, archive)
            return  # moved before a crash
        if row.empty or not is_regular(live):
            os.close(floor.create_exclusive(archive, what="archive"))
            fsync_dir(archive.parent)
            return
        try:
            if cat.mode == "copytruncate":
                with floor.open_file(live, "r+b", what="live file", trusted_dir=False) as src:
                    with floor.atomic_writer(archive, what="archive") as dst:
                        shutil.copyfileobj(src, dst, 1024 * 1024)
                    crashpoint("rotate.before_truncate")
                    os.ftruncate(src.fileno(), 0)
            else:
                floor.move(live, archive, what="live file")
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
        with floor.open_file(live, "r+b", what="live file", trusted_dir=False) as fh:
            if os.fstat(fh.fileno()).st_size == archive.stat().st_size and sha256_of(
                live
            ) == sha256_of(archive):
                os.ftruncate(fh.fileno(), 0)

    def _moved(self, name: str, cat: LogCategory, row: FileRow) -> FileRow:
        """Steps 1-2 done: the row is ``rotated`` (renamed, not yet released)."""
        self._move(name, cat, row)
        crashpoint("rotate.after_rename")
        self.manifest.set_file_state(row.id, "rotated")
        return self.manifest.files("id = ?", (row.id,))[0]

    def _signal(self, waiting: list[_Waiting]) -> set[str]:
        """SIGHUP each owner of a held file once; the owners that were running."""
        running: dict[str, bool] = {}
        for item in waiting:
            owner = item.cat.owner
            if not item.cat.signals_owner or owner is None:
                continue
            if owner not in running:
                running[owner] = self.reopen(owner)
            if not running[owner]:
                item.entry["notes"].append(f"{owner} is not running: nothing to signal")
        return {owner for owner, up in running.items() if up}

    def _await_release(self, waiting: list[_Waiting]) -> list[_Waiting]:
        """Step 3: wait until no process writes to each file, signalling owners once; the
        files still held when their ``reopen_timeout_s`` ends are returned (and recorded,
        with the processes that hold them)."""
        started = time.monotonic()
        signalled: set[str] | None = None
        held: list[_Waiting] = []
        pending = list(waiting)

        def settled(final: bool = False) -> bool:
            """One look at every file still pending; whether none is left."""
            nonlocal pending, signalled
            usage = scan({w.fid: Path(w.row.archive_path) for w in pending}, name=False)
            still: list[_Waiting] = []
            late: list[_Waiting] = []
            for item in pending:
                if usage.free(item.fid):
                    self._released(item, signalled)
                elif final or time.monotonic() - started >= item.cat.reopen_timeout_s:
                    late.append(item)
                else:
                    still.append(item)
            if late:  # search /proc for who holds them (the one costly step)
                named = scan({w.fid: Path(w.row.archive_path) for w in late})
                for item in late:
                    if named.free(item.fid):
                        self._released(item, signalled)
                    else:
                        reason, writers = named.reason(item.fid), named.writers.get(item.fid)
                        self._hold(item.row, item.entry, reason, writers)
                        held.append(item)
            pending = still
            if pending and signalled is None:
                signalled = self._signal(pending)
            return not pending

        longest = max((w.cat.reopen_timeout_s for w in waiting), default=0.0)
        if not floor.wait_until(settled, longest + POLL_S, POLL_S):
            settled(final=True)  # every timeout has passed: what is still written is held
        return held

    @staticmethod
    def _released(item: _Waiting, signalled: set[str] | None) -> None:
        if signalled and item.cat.owner in signalled:
            item.entry["notes"].append(f"{item.cat.owner} reopened {Path(item.row.live_path).name}")

    def _hold(
        self, row: FileRow, entry: dict[str, Any], reason: str, writers: list[Holder] | None
    ) -> None:
        """Keep ``row``'s renamed file as it is, and record why."""
        holders = [h.as_dict() for h in writers or []]
        entry["held"] = {"reason": reason, "holders": holders}
        entry["archive"] = row.archive_path  # as it is: renamed, not compressed
        with self.manifest.transaction():
            self.manifest.set_hold(row.id, reason, holders)

    def _compress(self, cat: LogCategory, row: FileRow) -> dict[str, Any]:
        """Step 4 for a released ``rotated`` row."""
        archive, final = Path(row.archive_path), Path(row.final_path)
        if archive == final:
            size, digest = archive.stat().st_size, sha256_of(archive)
        elif final.exists() and not os.path.lexists(archive):
            size, digest = final.stat().st_size, sha256_of(final)  # compressed before a crash
        else:
            size, digest = compress_file(archive, final, cat.compress)
            crashpoint("rotate.after_compress")
        sidecar = final.with_name(final.name + ".sha256")
        for stale in final.parent.glob(f".{glob.escape(sidecar.name)}.*.tmp"):
            stale.unlink(missing_ok=True)  # a run killed while writing it
        floor.write_text_atomic(sidecar, f"{digest}  {final.name}\n", mode=0o640)
        if archive != final:
            try:
                archive.unlink(missing_ok=True)
                fsync_dir(final.parent)
            except OSError as exc:
                raise CantCreateError(
                    f"{archive}: cannot remove: {exc.strerror}", hint=f"check {final.parent}"
                ) from None
        with self.manifest.transaction():
            self.manifest.clear_hold(row.id)
            self.manifest.set_file_state(row.id, "compressed", size=size, sha256=digest)
            self.manifest.ensure_uploads(row.id, list(cat.destinations))
        return {"archive": str(final), "size": size, "sha256": digest, "empty": row.empty}

    def _release_all(self, entries: dict[int, dict[str, Any]], run: RotationRun) -> None:
        """Steps 3-4 for every ``rotated`` file, this run's and those earlier runs left."""
        cats = self.logs.categories()
        waiting: list[_Waiting] = []
        ready: list[tuple[LogCategory, FileRow, dict[str, Any]]] = []
        resumed: dict[int, dict[str, Any]] = {}
        for row in self.manifest.files("state = 'rotated'"):
            cat = cats.get(row.category)
            if cat is None:
                continue
            entry = entries.get(row.id)
            if entry is None:  # left by an earlier run: listed once finished
                entry = {"category": row.category, "trade_date": row.trade_date, "notes": []}
                resumed[row.id] = entry
            archive = Path(row.archive_path)
            if cat.mode != "rename" or row.empty or not os.path.lexists(archive):
                ready.append((cat, row, entry))
                continue
            fid = floor.file_id(archive)
            if fid is None:  # replaced by something else than a regular file: keep it
                reason = "not a regular file any more (replaced after the rename?)"
                self._hold(row, entry, reason, None)
                continue
            waiting.append(_Waiting(row, cat, fid, entry))
        held = self._await_release(waiting)
        held_ids = {w.row.id for w in held}
        ready += [(w.cat, w.row, w.entry) for w in waiting if w.row.id not in held_ids]
        for cat, row, entry in sorted(ready, key=lambda r: r[1].id):
            entry.update(self._compress(cat, row))
            if row.id in resumed:
                run.resumed.append(entry)
        run.held = [h.as_dict() for h in self.manifest.holds()]

    # -- the command ----------------------------------------------------------------------

    def run(
        self, only: str | None = None, dry_run: bool = False, force_reason: str | None = None
    ) -> RotationRun:
        """Rotate the last closed trade date and finish whatever an earlier run left."""
        cats = self._selected(only)
        trade_date = last_closed_trade_date(self.engine, self.now)
        run = RotationRun()
        if trade_date is not None:
            run.forced = self.behind(trade_date, list(cats))
        if run.forced and not force_reason:
            first = next(iter(run.forced.items()))
            raise RefusedError(
                f"logs rotate: trade date {trade_date} is older than the newest one already "
                f"rotated ({first[1]} for logs.{first[0]}): the clock is behind",
                hint="check the system clock (or --clock); to rotate a past trade date on "
                "purpose, add --force --reason TEXT",
                code=PAST_CODE,
            )
        if dry_run:
            run.results = [self._plan(name, cat, trade_date) for name, cat in cats.items()]
            return run
        entries: dict[int, dict[str, Any]] = {}
        all_cats = self.logs.categories()
        for row in self.manifest.files("state = 'rotating'"):
            cat = all_cats.get(row.category)
            if cat is not None:
                self._moved(row.category, cat, row)
        for name, cat in cats.items():
            run.results.append(self._rotate_category(name, cat, trade_date, entries))
        self._release_all(entries, run)
        return run

    def _plan(self, name: str, cat: LogCategory, trade_date: dt.date | None) -> CategoryResult:
        if trade_date is None:
            return CategoryResult(name, None, "nothing", message="no session closed yet")
        td = trade_date.isoformat()
        if self.manifest.rotated(name, td):
            return CategoryResult(name, td, "already", message=f"already rotated for {td}")
        result = CategoryResult(name, td, "planned")
        directory = self.logs.archive_for(name)
        lives = self._live_files(cat, result)
        if result.refused:
            return result
        for live in lives or [self._placeholder(name, cat)]:
            final = directory / (archive_name(live, trade_date, 0) + SUFFIX[cat.compress])
            result.files.append({"live": str(live), "archive": str(final), "empty": not lives})
        result.message = f"would rotate {len(result.files)} file(s) for {td}"
        return result

    @staticmethod
    def _placeholder(name: str, cat: LogCategory) -> Path:
        if not glob.has_magic(cat.path):
            return Path(cat.path)
        return Path(cat.path).parent / f"{name}{Path(cat.path).suffix}"

    def _rotate_category(
        self,
        name: str,
        cat: LogCategory,
        trade_date: dt.date | None,
        entries: dict[int, dict[str, Any]],
    ) -> CategoryResult:
        """Steps 1-2 for one category (3-4 follow for every category at once)."""
        if trade_date is None:
            return CategoryResult(name, None, "nothing", message="no session closed yet")
        td = trade_date.isoformat()
        if self.manifest.rotated(name, td):
            return CategoryResult(name, td, "already", message=f"already rotated for {td}")
        if self.manifest.files("category = ? AND trade_date = ?", (name, td)):
            # an earlier run rotated the files but stopped before recording it
            with self.manifest.transaction():
                self.manifest.mark_rotated(name, td, 1)
            return CategoryResult(
                name, td, "already", message=f"already rotated for {td} (interrupted run)"
            )
        result = CategoryResult(name, td, "rotated")
        lives = self._live_files(cat, result)
        if result.refused:
            return result
        directory = self._archive_dir(name)
        targets = lives or [self._placeholder(name, cat)]
        for live in targets:
            archive = self._unique_archive(directory, live, trade_date)
            final = archive.with_name(archive.name + SUFFIX[cat.compress])
            with self.manifest.transaction():
                row = self.manifest.add_file(
                    name,
                    trade_date=td,
                    live_path=str(live),
                    archive_path=str(archive),
                    final_path=str(final),
                    empty=live not in lives,
                )
            crashpoint("rotate.before_rename")
            self._moved(name, cat, row)
            entry: dict[str, Any] = {"live": str(live), "archive": str(final), "notes": []}
            entries[row.id] = entry
            result.files.append(entry)
        with self.manifest.transaction():
            self.manifest.mark_rotated(name, td, len(targets))
        result.message = f"rotated {len(targets)} file(s) for {td}"
        return result
