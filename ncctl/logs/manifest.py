"""The upload manifest: SQLite in the state directory, one row per archived file and one per
(file, destination), so that every step is idempotent and survives a crash.

A file moves ``rotating`` (rename intended) → ``rotated`` (renamed; compressed only once no
process holds it open for writing) → ``compressed`` (final archive, sidecar written: ready to
upload) → ``pruned``. A ``rotated`` file that a writer still held at the last check has a
row in ``holds`` (why, which processes, since when) until a later run finds it free. For each
destination it then moves ``pending`` → ``uploading`` → ``uploaded`` → ``verified``, or to
``failed`` with the last error (retried by the next run). A rotation record per (category,
trade date) makes a second rotation of the same trade date a no-op.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ncctl.statedb import open_state_db

if TYPE_CHECKING:
    from ncctl.logs.section import LogsConfig

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    category TEXT NOT NULL,
    trade_date TEXT NOT NULL,
    live_path TEXT NOT NULL,
    archive_path TEXT NOT NULL,
    final_path TEXT NOT NULL,
    state TEXT NOT NULL,
    empty INTEGER NOT NULL DEFAULT 0,
    size INTEGER,
    sha256 TEXT,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    UNIQUE (category, trade_date, live_path)
);
CREATE TABLE IF NOT EXISTS uploads (
    file_id INTEGER NOT NULL REFERENCES files (id),
    destination TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    remote_path TEXT,
    verified_by TEXT,
    updated_ns INTEGER NOT NULL,
    PRIMARY KEY (file_id, destination)
);
CREATE TABLE IF NOT EXISTS holds (
    file_id INTEGER PRIMARY KEY REFERENCES files (id),
    reason TEXT NOT NULL,
    holders TEXT NOT NULL,
    since_ns INTEGER NOT NULL,
    checked_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rotations (
    category TEXT NOT NULL,
    trade_date TEXT NOT NULL,
    files INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (category, trade_date)
);
"""


@dataclass(frozen=True)
class FileRow:
    id: int
    category: str
    trade_date: str
    live_path: str
    archive_path: str
    final_path: str
    state: str
    empty: bool
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class HoldRow:
    """A renamed file kept as it is because a writer held it (or nobody could tell)."""

    file_id: int
    category: str
    trade_date: str
    archive_path: str
    reason: str
    holders: list[dict[str, object]]
    since_ns: int
    checked_ns: int

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "trade_date": self.trade_date,
            "file": self.archive_path,
            "reason": self.reason,
            "holders": self.holders,
            "since": _iso_ns(self.since_ns),
            "checked": _iso_ns(self.checked_ns),
        }


def _iso_ns(ns: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class UploadRow:
    file_id: int
    destination: str
    state: str
    attempts: int
    last_error: str | None
    remote_path: str | None
    verified_by: str | None


def rebuild_hint(path: Path) -> str:
    return (
        f"move it aside (mv {path} {path}.damaged), then `ncctl logs upload --rebuild` makes "
        "a new one and adopts every archive whose .sha256 sidecar matches"
    )


class Manifest:
    """The manifest database of one state directory.

    ``read_only``: for the status commands (nothing is created; a missing manifest reads as
    an empty one). ``expected`` says why the manifest should exist (archives with sidecars on
    disk), or None: a missing manifest is then an error instead of a fresh start.
    """

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        expected: Callable[[], str | None] | None = None,
    ) -> None:
        self.path = path
        self.db = open_state_db(
            path,
            SCHEMA,
            what="the upload manifest",
            rebuild_hint=rebuild_hint(path),
            read_only=read_only,
            expected=expected,
            missing_hint="restore it from a backup, or run `ncctl logs upload --rebuild`: it "
            "makes a new one and adopts every archive whose .sha256 sidecar matches",
        )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- files ----------------------------------------------------------------------------

    @staticmethod
    def _file(row: tuple[object, ...]) -> FileRow:
        return FileRow(
            id=int(row[0]),  # type: ignore[call-overload]
            category=str(row[1]),
            trade_date=str(row[2]),
            live_path=str(row[3]),
            archive_path=str(row[4]),
            final_path=str(row[5]),
            state=str(row[6]),
            empty=bool(row[7]),
            size=row[8] if isinstance(row[8], int) else None,
            sha256=row[9] if isinstance(row[9], str) else None,
        )

    _FILE_COLUMNS = (
        "id, category, trade_date, live_path, archive_path, final_path, state, empty, size, sha256"
    )

    def files(self, where: str = "1", args: tuple[object, ...] = ()) -> list[FileRow]:
        cur = self.db.execute(
            f"SELECT {self._FILE_COLUMNS} FROM files WHERE {where} ORDER BY trade_date, id",  # noqa: S608
            args,
        )
        return [self._file(r) for r in cur.fetchall()]

    def add_file(
        self,
        category: str,
        *,
        trade_date: str,
        live_path: str,
        archive_path: str,
        final_path: str,
        empty: bool,
    ) -> FileRow:
        now = time.time_ns()
        self.db.execute(
            "INSERT INTO files (category, trade_date, live_path, archive_path, final_path, "
            "state, empty, created_ns, updated_ns) VALUES (?, ?, ?, ?, ?, 'rotating', ?, ?, ?)",
            (category, trade_date, live_path, archive_path, final_path, int(empty), now, now),
        )
        return self.files(
            "category = ? AND trade_date = ? AND live_path = ?", (category, trade_date, live_path)
        )[0]

    def set_file_state(
        self, file_id: int, state: str, size: int | None = None, sha256: str | None = None
    ) -> None:
        self.db.execute(
            "UPDATE files SET state = ?, size = COALESCE(?, size), sha256 = COALESCE(?, sha256), "
            "updated_ns = ? WHERE id = ?",
            (state, size, sha256, time.time_ns(), file_id),
        )

    def archive_names(self) -> set[str]:
        cur = self.db.execute("SELECT archive_path, final_path FROM files")
        names: set[str] = set()
        for archive, final in cur.fetchall():
            names.add(str(archive))
            names.add(str(final))
        return names

    def adopt(
        self,
        category: str,
        *,
        trade_date: str,
        final_path: str,
        size: int,
        sha256: str,
        destinations: list[str],
    ) -> FileRow:
        """Take in an archive that is on disk but not in the manifest (its sidecar checked by
        the caller): a ``compressed`` row, queued for ``destinations``."""
        now = time.time_ns()
        with self.transaction():
            self.db.execute(
                "INSERT INTO files (category, trade_date, live_path, archive_path, final_path, "
                "state, empty, size, sha256, created_ns, updated_ns) "
                "VALUES (?, ?, ?, ?, ?, 'compressed', 0, ?, ?, ?, ?)",
                (category, trade_date, final_path, final_path, final_path, size, sha256, now, now),
            )
            row = self.files("final_path = ?", (final_path,))[-1]
            self.ensure_uploads(row.id, destinations)
        return row

    # -- rotations ------------------------------------------------------------------------

    def rotated(self, category: str, trade_date: str) -> bool:
        cur = self.db.execute(
            "SELECT 1 FROM rotations WHERE category = ? AND trade_date = ?",
            (category, trade_date),
        )
        return cur.fetchone() is not None

    def mark_rotated(self, category: str, trade_date: str, files: int) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO rotations (category, trade_date, files, created_ns) "
            "VALUES (?, ?, ?, ?)",
            (category, trade_date, files, time.time_ns()),
        )

    def newest_trade_date(self, category: str) -> str | None:
        """The newest trade date rotated (or archived) for ``category``."""
        row = self.db.execute(
            "SELECT MAX(trade_date) FROM (SELECT trade_date FROM rotations WHERE category = ? "
            "UNION ALL SELECT trade_date FROM files WHERE category = ?)",
            (category, category),
        ).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    # -- holds: renamed files a writer still held at the last check ------------------------

    def set_hold(self, file_id: int, reason: str, holders: Sequence[Mapping[str, object]]) -> None:
        now = time.time_ns()
        self.db.execute(
            "INSERT INTO holds (file_id, reason, holders, since_ns, checked_ns) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (file_id) DO UPDATE SET reason = excluded.reason, "
            "holders = excluded.holders, checked_ns = excluded.checked_ns",
            (file_id, reason, json.dumps(holders), now, now),
        )

    def clear_hold(self, file_id: int) -> None:
        self.db.execute("DELETE FROM holds WHERE file_id = ?", (file_id,))

    def holds(self) -> list[HoldRow]:
        """Every file still ``rotated`` that a writer held at the last check."""
        cur = self.db.execute(
            "SELECT f.id, f.category, f.trade_date, f.archive_path, h.reason, h.holders, "
            "h.since_ns, h.checked_ns FROM holds AS h JOIN files AS f ON f.id = h.file_id "
            "WHERE f.state = 'rotated' ORDER BY f.trade_date, f.id"
        )
        return [
            HoldRow(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                json.loads(r[5]),
                int(r[6]),
                int(r[7]),
            )
            for r in cur.fetchall()
        ]

    # -- uploads --------------------------------------------------------------------------

    def ensure_uploads(self, file_id: int, destinations: list[str]) -> None:
        now = time.time_ns()
        for dest in destinations:
            self.db.execute(
                "INSERT OR IGNORE INTO uploads (file_id, destination, state, updated_ns) "
                "VALUES (?, ?, 'pending', ?)",
                (file_id, dest, now),
            )

    def upload_totals(self) -> list[tuple[str, str, int, int, int, int]]:
        """Per destination and upload state: (destination, state, files, bytes, attempts,
        latest update in ns)."""
        rows = self.db.execute(
            "SELECT u.destination, u.state, COUNT(*), COALESCE(SUM(f.size), 0), "
            "COALESCE(SUM(u.attempts), 0), MAX(u.updated_ns) "
            "FROM uploads AS u JOIN files AS f ON f.id = u.file_id "
            "GROUP BY u.destination, u.state"
        ).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]

    def newest_day_bytes(self, destination: str | None = None) -> int:
        """Bytes of the files of the newest trade date (those with an upload row for
        ``destination`` when given); 0 without files."""
        # ``?1 IS NULL`` takes every file; otherwise those with an upload row for ?1
        row = self.db.execute(
            "SELECT f.trade_date, COALESCE(SUM(f.size), 0) FROM files AS f WHERE ?1 IS NULL "
            "OR f.id IN (SELECT file_id FROM uploads WHERE destination = ?1) "
            "GROUP BY f.trade_date ORDER BY f.trade_date DESC LIMIT 1",
            (destination,),
        ).fetchone()
        return int(row[1]) if row is not None else 0

    def uploads(self, file_id: int | None = None) -> list[UploadRow]:
        sql = (
            "SELECT file_id, destination, state, attempts, last_error, remote_path, verified_by "
            "FROM uploads"
        )
        args: tuple[object, ...] = ()
        if file_id is not None:
            sql += " WHERE file_id = ?"
            args = (file_id,)
        cur = self.db.execute(sql + " ORDER BY file_id, destination", args)
        return [
            UploadRow(int(r[0]), str(r[1]), str(r[2]), int(r[3]), r[4], r[5], r[6])
            for r in cur.fetchall()
        ]

    def set_upload(
        self,
        file_id: int,
        destination: str,
        state: str,
        *,
        attempt: bool = False,
        error: str | None = None,
        remote_path: str | None = None,
        verified_by: str | None = None,
    ) -> None:
        self.db.execute(
            "UPDATE uploads SET state = ?, attempts = attempts + ?, last_error = ?, "
            "remote_path = COALESCE(?, remote_path), verified_by = COALESCE(?, verified_by), "
            "updated_ns = ? WHERE file_id = ? AND destination = ?",
            (
                state,
                int(attempt),
                error,
                remote_path,
                verified_by,
                time.time_ns(),
                file_id,
                destination,
            ),
        )


def manifest_path(state_dir: Path) -> Path:
    return state_dir / "manifest.sqlite"


def open_manifest(
    logs: LogsConfig, state_dir: Path, *, read_only: bool = False, rebuild: bool = False
) -> Manifest:
    """The manifest of ``state_dir``. Unless ``rebuild``, a missing one is an error while
    archives with ``.sha256`` sidecars (in the archive directories of ``logs``) show that one
    existed."""
    from ncctl.logs.archives import sidecars_present

    def expected() -> str | None:
        return None if rebuild else sidecars_present(logs)

    return Manifest(manifest_path(state_dir), read_only=read_only, expected=expected)


@contextmanager
def locked_manifest(
    logs: LogsConfig,
    state_dir: Path,
    command: str,
    *,
    read_only: bool = False,
    rebuild: bool = False,
) -> Iterator[Manifest]:
    """The manifest under the ``logs`` lock that rotate, upload and prune share (a second
    taker waits ``logs.lock_timeout_s``, then fails with exit 75 naming the holder).
    ``read_only`` (the dry runs): opened read-only, without the lock, creating nothing."""
    from ncctl.locks import hold

    lock: contextlib.AbstractContextManager[None] = (
        contextlib.nullcontext()
        if read_only
        else hold(state_dir, "logs", logs.lock_timeout_s, command)
    )
    with lock:
        manifest = open_manifest(logs, state_dir, read_only=read_only, rebuild=rebuild)
        try:
            yield manifest
        finally:
            manifest.close()
