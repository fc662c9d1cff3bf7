"""The journal's head, anchored outside the journal: ``state_dir/journal.sqlite``.

One row holds the committed head (line count, hash of the last line, size) and, while an
append is under way, the pending head it will make. An append records the pending head, writes
and fsyncs its line, then commits: a crash anywhere in between leaves a journal that matches
one of the two, which is never taken for tampering. A journal that matches neither when a writer
comes along (lines deleted, truncated, or appended behind ncctl's back) is recorded as an
anomaly before the writer goes on, so that `ncctl audit verify` still reports it afterwards.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.errors import DataError, NcctlError, TemporaryError
from ncctl.journal.records import Head

ANCHOR_NAME = "journal.sqlite"
NEEDED_BYTES = 256 * 1024
"""Below this much free space, a failing SQLite write is taken for a full file system."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    lines INTEGER NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    pending_lines INTEGER,
    pending_hash TEXT,
    pending_size INTEGER,
    updated_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS anomalies (
    id INTEGER PRIMARY KEY,
    found_ns INTEGER NOT NULL,
    expected TEXT NOT NULL,
    found TEXT NOT NULL,
    note TEXT NOT NULL
);
"""

REBUILD_HINT = (
    "keep it as evidence, move it aside and run `ncctl audit verify` (the next append "
    "re-anchors the journal as it is)"
)


def anchor_path(state_dir: Path) -> Path:
    return state_dir / ANCHOR_NAME


@dataclass(frozen=True)
class AnchorState:
    committed: Head | None
    pending: Head | None
    anomalies: list[dict[str, Any]] = field(default_factory=list)


def _head(lines: object, hash_: object, size: object) -> Head | None:
    if isinstance(lines, int) and isinstance(hash_, str) and isinstance(size, int):
        return Head(lines, hash_, size)
    return None


def _no_space(path: Path, detail: object) -> TemporaryError | None:
    """The error for a full file system (SQLite says "disk is full" or, creating its -wal
    and -shm files, "disk I/O error"), or None when there is space left."""
    try:
        vfs = os.statvfs(path.parent)
    except OSError:
        return None
    if "full" not in str(detail) and vfs.f_bavail * vfs.f_frsize >= NEEDED_BYTES:
        return None
    return TemporaryError(
        f"{path}: cannot update the journal's anchor: no space left on the file system ({detail})",
        hint=f"free space on the file system of {path.parent}, then run the command again",
        code="journal.no_space",
    )


class Anchor:
    """The anchor database of one state directory."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> Anchor:
        """Read-write, created if needed (writers)."""
        from ncctl.statedb import open_state_db

        path = anchor_path(state_dir)
        try:
            db = open_state_db(path, SCHEMA, what="the journal's anchor", rebuild_hint=REBUILD_HINT)
        except NcctlError as exc:
            full = _no_space(path, exc.message.rsplit(": ", 1)[-1])
            if full is not None:
                raise full from None
            raise
        return cls(db, path)

    @classmethod
    def open_readonly(cls, state_dir: Path) -> Anchor | None:
        """Read-only (``mode=ro``); None when there is none: reading never creates one."""
        path = anchor_path(state_dir)
        from ncctl.statedb import open_readonly_if_present

        db = open_readonly_if_present(path, "SELECT lines FROM head LIMIT 1", REBUILD_HINT)
        return None if db is None else cls(db, path)

    def close(self) -> None:
        self.db.close()

    def state(self) -> AnchorState:
        try:
            row = self.db.execute(
                "SELECT lines, hash, size, pending_lines, pending_hash, pending_size FROM head"
            ).fetchone()
            found = self.db.execute(
                "SELECT found_ns, expected, found, note FROM anomalies ORDER BY id"
            ).fetchall()
        except sqlite3.Error as exc:
            raise DataError(
                f"{self.path}: the journal's anchor cannot be read: {exc}", hint=REBUILD_HINT
            ) from None
        anomalies = [
            {"found_ns": int(r[0]), "expected": str(r[1]), "found": str(r[2]), "note": str(r[3])}
            for r in found
        ]
        if row is None:
            return AnchorState(None, None, anomalies)
        return AnchorState(_head(*row[:3]), _head(*row[3:]), anomalies)

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        try:
            self.db.execute(sql, args)  # writers hold a state connection: NcctlError only
        except NcctlError as exc:
            full = _no_space(self.path, exc.message)
            if full is not None:
                raise full from None
            raise

    def set_pending(self, current: Head, pending: Head) -> None:
        """Before a line is written: the head it will make (and the one it starts from)."""
        self._write(
            "INSERT INTO head (id, lines, hash, size, pending_lines, pending_hash, pending_size, "
            "updated_ns) VALUES (1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "lines = excluded.lines, hash = excluded.hash, size = excluded.size, "
            "pending_lines = excluded.pending_lines, pending_hash = excluded.pending_hash, "
            "pending_size = excluded.pending_size, updated_ns = excluded.updated_ns",
            (
                current.lines,
                current.hash,
                current.size,
                pending.lines,
                pending.hash,
                pending.size,
                time.time_ns(),
            ),
        )

    def commit(self, head: Head) -> None:
        """The journal now ends at ``head``; nothing is pending."""
        self._write(
            "INSERT INTO head (id, lines, hash, size, updated_ns) VALUES (1, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET lines = excluded.lines, hash = excluded.hash, "
            "size = excluded.size, pending_lines = NULL, pending_hash = NULL, "
            "pending_size = NULL, updated_ns = excluded.updated_ns",
            (head.lines, head.hash, head.size, time.time_ns()),
        )

    def record_anomaly(self, expected: AnchorState, found: Head, note: str) -> None:
        want = {"committed": expected.committed and expected.committed.as_dict()}
        if expected.pending is not None:
            want["pending"] = expected.pending.as_dict()
        self._write(
            "INSERT INTO anomalies (found_ns, expected, found, note) VALUES (?, ?, ?, ?)",
            (time.time_ns(), json.dumps(want), json.dumps(found.as_dict()), note),
        )
