"""The SQLite databases of the state directory: opened the same way, failing the same way.

A state database is checked before SQLite sees it: it must be a regular file (never a symbolic
link, a directory, a FIFO or a device), readable (and writable unless opened read-only), not
empty and starting with the SQLite header. SQLite itself happily opens a 0-byte file as a new
database; ncctl never does: it creates a new database beside it, complete with its schema,
and links it into place, so an empty file is always damage. Every later SQLite failure
(a malformed page, text that is not UTF-8, a lock held too long) is a one-line error naming
the database, through :class:`StateConnection`.

Read-only opens (the status commands) never create the file: a database that does not exist
yet reads as an empty one (in memory, with the schema). Nor do they create SQLite's ``-wal``
and ``-shm`` companions, which ``mode=ro`` makes beside a WAL database that no connection has
open and leaves behind (a read-only command run as root would change a state directory owned
by the service account): such a database is read ``immutable=1`` under a reader's lock of
ncctl's own (:func:`_reader_lock`). When the companions are there, ``mode=ro`` creates nothing.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ncctl import floor
from ncctl.errors import (
    CantCreateError,
    DataError,
    NcctlError,
    PermissionDeniedError,
    TemporaryError,
)
from ncctl.small_files import file_kind
from ncctl.temp_files import sweep_temps

SQLITE_HEADER = b"SQLite format 3\x00"
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


def _convert(db: StateConnection, exc: sqlite3.Error) -> NcctlError:
    """The NcctlError that an SQLite failure on ``db`` is."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return TemporaryError(
            f"{db.path}: {db.what} is locked by another process ({text})",
            hint="wait for the other ncctl process to finish and run again",
            code="state.locked",
        )
    if "readonly" in text or "unable to open" in text:
        return CantCreateError(
            f"{db.path}: cannot write {db.what}: {text}",
            hint="check state_dir in the configuration, its permissions and its file system",
        )
    if "disk is full" in text or "disk I/O" in text:
        return TemporaryError(
            f"{db.path}: cannot write {db.what}: {text}",
            hint=f"free space under {db.path.parent} and run again",
            code="state.io",
        )
    return DataError(
        f"{db.path}: {db.what} is damaged: {text}", hint=db.rebuild_hint, code="state.damaged"
    )


class StateCursor(sqlite3.Cursor):
    """A cursor whose every SQLite failure is an NcctlError naming the database."""

    def _fail(self, exc: sqlite3.Error) -> NcctlError:
        conn = self.connection
        assert isinstance(conn, StateConnection)
        return _convert(conn, exc)

    def execute(self, sql: str, parameters: Any = (), /) -> StateCursor:
        try:
            super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None
        return self

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def fetchmany(self, size: int | None = 1) -> list[Any]:
        try:
            return super().fetchmany(size)
        except sqlite3.Error as exc:
            raise self._fail(exc) from None

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            raise self._fail(exc) from None


class ReaderConnection(sqlite3.Connection):
    """A connection that may hold a reader's lock on its database file (:func:`_reader_lock`),
    released when it is closed."""

    lock_fd: int | None = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.lock_fd is not None:
                os.close(self.lock_fd)
                self.lock_fd = None


class StateConnection(ReaderConnection):
    """A connection to a state database that reports failures as NcctlErrors."""

    path: Path
    what: str
    rebuild_hint: str

    def cursor(self, factory: Any = None) -> StateCursor:  # type: ignore[override]
        cur = super().cursor(StateCursor)
        assert isinstance(cur, StateCursor)
        return cur

    def execute(self, sql: str, parameters: Any = (), /) -> StateCursor:
        return self.cursor().execute(sql, parameters)

    def executescript(self, sql_script: str, /) -> StateCursor:
        try:
            super().executescript(sql_script)
        except sqlite3.Error as exc:
            raise _convert(self, exc) from None
        return self.cursor()


_SHARED_FIRST = 0x40000000 + 2
_SHARED_SIZE = 510
"""The bytes of a database file that SQLite's readers read-lock (unix VFS: PENDING_BYTE + 2,
510 bytes); a writer locks them exclusively to checkpoint into the file as it closes."""
READER_LOCK_WAIT_S = 2.0


def _companions(path: Path) -> bool:
    """Whether SQLite's ``-wal``, ``-shm`` or ``-journal`` is beside the database: a
    connection has it open, or a crashed writer left something to recover."""
    return any(os.path.lexists(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))


def _reader_lock(path: Path) -> int | None:
    """For a database that no connection has open (no companion beside it: :func:`_companions`):
    a descriptor holding the read lock an SQLite reader holds, so that no writer that opens
    it meanwhile checkpoints into the file while it is read ``immutable=1``; None when the
    companions are there (``mode=ro`` creates nothing then) or a writer kept the file
    exclusively locked for READER_LOCK_WAIT_S."""
    if _companions(path):
        return None
    try:
        fd = floor.open_fd(path, os.O_RDONLY, what="database")
    except OSError:
        return None  # unreadable: opening it with SQLite says so
    if not floor.wait_until(
        lambda: floor.try_read_lock(fd, _SHARED_SIZE, _SHARED_FIRST), READER_LOCK_WAIT_S
    ):
        os.close(fd)
        return None
    if _companions(path):
        os.close(fd)  # a writer opened it before the lock was held: read it as one reader
        return None
    return fd


def _read_only_uri(base: str, lock_fd: int | None) -> str:
    return f"{base}?mode=ro&immutable=1" if lock_fd is not None else f"{base}?mode=ro"


def tables_of(schema: str) -> list[str]:
    """The tables a schema of ``CREATE TABLE IF NOT EXISTS`` statements makes."""
    return _TABLE.findall(schema)


def _connect(target: str, *, uri: bool, path: Path, what: str, hint: str) -> StateConnection:
    try:
        db = floor.sqlite_connect(path, target, uri=uri, factory=StateConnection, what=what)
    except sqlite3.Error as exc:
        raise CantCreateError(
            f"{path}: cannot open {what}: {exc}",
            hint="check state_dir in the configuration and its permissions",
        ) from None
    db.path, db.what, db.rebuild_hint = path, what, hint
    return db


def _create(path: Path, schema: str, *, what: str, hint: str, wal: bool) -> None:
    """Make a new database at ``path`` with its schema, all at once: it is built beside it
    and linked into place, so that a crash never leaves an empty file behind."""
    try:
        floor.ensure_dir(path.parent, "state directory")
        tmp = floor.temp_name(path)
        os.close(floor.create_exclusive(tmp, what=what, mode=0o600))
        sweep_temps(path.parent)  # what a build killed before its link left behind
    except OSError as exc:
        cls = PermissionDeniedError if exc.errno in (errno.EACCES, errno.EPERM) else CantCreateError
        raise cls(
            f"{path}: cannot create {what}: {exc.strerror}",
            hint="check state_dir in the configuration and its permissions",
        ) from None
    try:
        db = _connect(str(tmp), uri=False, path=path, what=what, hint=hint)
        try:
            if wal:
                db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)
        finally:
            db.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError as exc:
            raise CantCreateError(
                f"{path}: cannot create {what}: {exc.strerror}",
                hint="check state_dir in the configuration and its permissions",
            ) from None
    finally:
        for own in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            floor.remove(own)


def check_db_file(path: Path, *, what: str, hint: str, writable: bool) -> bool:
    """Whether a usable database file is at ``path`` (False: nothing is there). Anything
    else there (a link, a directory, a FIFO, an empty or foreign file, one that cannot be
    read) raises an NcctlError naming it."""
    kind = file_kind(path, what)
    if kind is None:
        return False
    if kind != "regular file":
        why = " (ncctl follows no links in the state directory)" if kind == "symbolic link" else ""
        raise DataError(
            f"{path}: {what} is a {kind}, not a database file{why}",
            hint=hint,
            code="state.wrong_type",
        )
    flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = floor.open_fd(path, flags, what=what)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PermissionDeniedError(
                f"{path}: {what} is not {'writable' if writable else 'readable'} "
                "(permission denied)",
                hint="run ncctl as the user that owns the state directory",
            ) from None
        raise CantCreateError(
            f"{path}: cannot open {what}: {exc.strerror}",
            hint="check state_dir in the configuration and its file system",
        ) from None
    try:
        st = os.fstat(fd)
        head = os.pread(fd, len(SQLITE_HEADER), 0) if stat.S_ISREG(st.st_mode) else b""
    finally:
        os.close(fd)
    if not stat.S_ISREG(st.st_mode):  # replaced between the two looks
        raise DataError(f"{path}: {what} is not a regular file", hint=hint, code="state.wrong_type")
    if st.st_size == 0:
        raise DataError(
            f"{path}: {what} is empty (0 bytes), not a database", hint=hint, code="state.empty"
        )
    if head != SQLITE_HEADER:
        raise DataError(
            f"{path}: {what} is not an SQLite database", hint=hint, code="state.damaged"
        )
    return True


def open_state_db(
    path: Path,
    schema: str,
    *,
    what: str,
    rebuild_hint: str,
    read_only: bool = False,
    expected: Callable[[], str | None] | None = None,
    missing_hint: str = "",
    wal: bool = True,
) -> StateConnection:
    """Open the database at ``path`` in autocommit mode (WAL journal and full fsync unless
    ``wal`` is false), creating it with ``schema`` when it does not exist.

    ``read_only``: open it ``mode=ro``; when it does not exist, an empty database in memory
    stands for it (nothing is created). ``expected`` says why the database should already
    exist (ncctl's own records), or None: then a missing one is an error (with
    ``missing_hint``), not a fresh start.
    """
    present = check_db_file(path, what=what, hint=rebuild_hint, writable=not read_only)
    if not present and expected is not None:
        reason = expected()
        if reason is not None:
            raise DataError(
                f"{path}: {what} is missing, but {reason}",
                hint=missing_hint or rebuild_hint,
                code="state.missing",
            )
    if not present and read_only:
        db = _connect(":memory:", uri=False, path=path, what=what, hint=rebuild_hint)
        db.executescript(schema)
        return db
    if not present:
        _create(path, schema, what=what, hint=rebuild_hint, wal=wal)
        check_db_file(path, what=what, hint=rebuild_hint, writable=True)
    if read_only:
        lock = _reader_lock(path)
        target = _read_only_uri(f"file:{quote(str(path.absolute()))}", lock)
        try:
            db = _connect(target, uri=True, path=path, what=what, hint=rebuild_hint)
        except BaseException:
            if lock is not None:
                os.close(lock)
            raise
        db.lock_fd = lock
        try:
            have = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            _require_tables(db, have, schema)
        except BaseException:
            db.close()
            raise
        return db
    db = _connect(str(path), uri=False, path=path, what=what, hint=rebuild_hint)
    try:
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
    except BaseException:
        db.close()
        raise
    return db


def _require_tables(db: StateConnection, have: set[str], schema: str) -> None:
    """A read-only database must be one ncctl made (at least one of its tables is there).
    Tables that a newer ncctl added since the file was made are stood in for by empty
    TEMP tables, so that reading an older database never writes to it."""
    wanted = tables_of(schema)
    missing = [t for t in wanted if t not in have]
    if len(missing) == len(wanted):
        raise DataError(
            f"{db.path}: {db.what} has no {missing[0]} table: not a database ncctl made",
            hint=db.rebuild_hint,
            code="state.damaged",
        )
    for statement in schema.split(";"):
        found = _TABLE.search(statement)
        if found is not None and found.group(1) in missing:
            db.execute(_TABLE.sub(r"CREATE TEMP TABLE IF NOT EXISTS \1", statement, count=1))


def open_readonly_if_present(path: Path, probe: str, hint: str) -> sqlite3.Connection | None:
    """A state database opened read-only (nothing is created or changed: see the module),
    checked with the query ``probe``; None when it does not exist."""
    if not path.is_file() and not path.is_symlink():
        return None  # a planted link is refused by the opener
    lock = _reader_lock(path)
    base = path.absolute().as_uri()
    targets = [_read_only_uri(base, lock)]
    wal = path.with_name(path.name + "-wal")
    if lock is None and (not wal.exists() or wal.stat().st_size == 0):
        targets.append(f"{base}?immutable=1")  # nothing uncheckpointed: no -shm (full disk)
    problem: sqlite3.Error | None = None
    try:
        for target in targets:
            try:
                db = floor.sqlite_connect(
                    path, target, uri=True, factory=ReaderConnection, what="database"
                )
            except sqlite3.Error as exc:
                problem = exc
                continue
            try:
                db.execute(probe).fetchall()
            except sqlite3.Error as exc:
                db.close()
                problem = exc
                continue
            db.lock_fd, lock = lock, None
            return db
    finally:
        if lock is not None:
            os.close(lock)
    if isinstance(problem, sqlite3.OperationalError) and "unable to open" in str(problem):
        raise PermissionDeniedError(
            f"{path}: cannot open the database: {problem}",
            hint=f"run ncctl as the owner of {path.parent} (root) or fix its permissions",
        )
    raise DataError(f"{path}: not a usable database: {problem}", hint=hint)
