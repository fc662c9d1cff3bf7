"""The ground floor for files: every file ncctl writes, locks or opens as a database goes
through here, so that the rules below hold everywhere, in one implementation.

- A symbolic link in the final component is never followed (``O_NOFOLLOW``): a planted link is
  refused by name (exit 65), its target untouched.
- A directory ncctl writes into is checked first: not a link, owned by root or by ncctl's own
  user, and not writable by group or others (unless sticky and owned by root, like /tmp).
- Atomic replace: a temporary file with a unique name, created exclusively in the target's
  directory with its final mode from the start, written, fsynced, renamed, and the directory
  fsynced. A temporary name ncctl did not choose itself is never touched.
- Stale temporaries: a writer killed between creating its temporary and renaming it leaves
  ``.NAME.PID.HEX.tmp``; the next atomic write into that directory removes every such file
  (:mod:`ncctl.temp_files`), at most once a minute per directory and process.
- Named locks (``flock``), crash points, bounded polling waits and the SQLite opener.

This module imports only the standard library and :mod:`ncctl.errors` (itself standard library
only), so that the component supervisor can use it without pulling in the configuration.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

from ncctl import temp_files
from ncctl.errors import (
    CantCreateError,
    DataError,
    NcctlError,
    PermissionDeniedError,
    TemporaryError,
)

UMASK = 0o027
"""ncctl's own files are never world-readable, never group-writable."""
FILE_MODE = 0o640
DIR_MODE = 0o750
POLL_S = 0.02

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

if TYPE_CHECKING:  # imported where used: `ncctl schedule now` needs neither
    import sqlite3

C = TypeVar("C", bound="sqlite3.Connection")


def set_umask() -> int:
    """Set ncctl's umask (027) once at the start of a process; returns the previous one."""
    return os.umask(UMASK)


# -- crash points and waits ---------------------------------------------------------------


def crashpoint(name: str) -> None:
    """When ``NCCTL_CRASH_AT`` names this point, the process sends itself SIGKILL here: no
    cleanup, no ``finally``, exactly what a power cut or the OOM killer does. Unset, a point
    costs one lookup."""
    if os.environ.get("NCCTL_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def wait_until(condition: Callable[[], bool], timeout_s: float, poll_s: float = POLL_S) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes (bounded in time and in
    count); whether it held."""
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / max(poll_s, 0.001)) + 2):
        if condition():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(poll_s, left))
    return condition()


# -- refusals -----------------------------------------------------------------------------


def _kind(mode: int) -> str:
    from ncctl.small_files import kind_of

    return kind_of(mode)


def refuse_link(path: Path, what: str) -> DataError:
    """The error for a symbolic link (or other non-regular file) where ncctl wants its file."""
    try:
        kind = _kind(os.lstat(path).st_mode)
    except OSError:
        kind = "symbolic link"
    return DataError(
        f"{path}: {what} is a {kind}, not a regular file (ncctl follows no links here)",
        hint=f"remove {path} (nothing was read or written through it) and run again",
        code="file.not_regular",
    )


def check_dir(directory: Path, what: str = "directory") -> None:
    """Refuse to write into ``directory`` unless it is a real directory (not a link), owned by
    root, by ncctl's user or its service account, and not group/world-writable (unless sticky
    and root-owned)."""
    st = os.lstat(directory)  # OSError: the caller names what it was writing
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise DataError(
            f"{directory}: the {what} is a {_kind(st.st_mode)}, not a directory "
            "(ncctl follows no links here)",
            hint=f"make {directory} a real directory owned by root",
            code="file.not_directory",
        )
    owner_ok = not foreign_owner(st)
    shared = st.st_mode & 0o022 and not (st.st_mode & stat.S_ISVTX and st.st_uid == 0)
    if not owner_ok or shared:
        raise PermissionDeniedError(
            f"{directory}: the {what} is owned by uid {st.st_uid} with mode "
            f"{stat.S_IMODE(st.st_mode):04o}; others could plant files in it",
            hint=f"chown root {directory} && chmod go-w {directory}",
            code="file.unsafe_directory",
        )


_REFUSED_ROOTS: dict[Path, NcctlError] = {}


def private_state(directory: Path, refused: NcctlError | None = None) -> None:
    """``directory`` is a per-user state directory (the embedded default's): from now on this
    process creates everything private (umask 077), so that the directory is 0700 whichever
    write creates it first. With ``refused``, :func:`ensure_dir` raises that instead of
    creating anything under it (an account without a home directory)."""
    os.umask(os.umask(0o077) | 0o077)
    if refused is not None:
        _REFUSED_ROOTS[directory] = refused


def ensure_dir(directory: Path, what: str = "directory", mode: int = DIR_MODE) -> Path:
    """Create ``directory`` (and its parents) with ``mode`` when missing, then check it."""
    for root, refused in _REFUSED_ROOTS.items():
        if directory.is_relative_to(root):
            raise refused
    try:
        with contextlib.suppress(FileExistsError):  # a link or a file there: named below
            directory.mkdir(mode=mode, parents=True, exist_ok=True)
        check_dir(directory, what)
    except OSError as exc:
        raise CantCreateError(
            f"{directory}: cannot create the {what}: {exc.strerror}",
            hint="check the path in the configuration and its permissions",
        ) from None
    return directory


def file_id(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of ``path`` if it is a regular file; None otherwise (a symbolic link
    is not followed)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_service_uids: set[int] = set()


def trust_service_user(name: str) -> None:
    """Also accept directories and files of the account ncctl's units run as (``[systemd]
    user``): root shares the state directory with it (``ncctl tune host``, an operator)."""
    import pwd

    with contextlib.suppress(KeyError):  # no such account here: nothing more is trusted
        _service_uids.add(pwd.getpwnam(name).pw_uid)


def foreign_owner(st: os.stat_result) -> bool:
    """Whether a file belongs to another user than root, ncctl's own or its service account
    (a key, a secret or a directory such a user could swap at will)."""
    return st.st_uid not in (0, os.geteuid(), *_service_uids)


# -- opens --------------------------------------------------------------------------------


def open_fd(
    path: Path,
    flags: int,
    *,
    what: str,
    mode: int = FILE_MODE,
    trusted_dir: bool = True,
) -> int:
    """``os.open`` that never follows a link in the final component and, when writing into
    a directory ncctl owns (``trusted_dir``), checks that directory first. A link or a
    non-regular file is refused with DataError naming it; other failures are OSError."""
    if flags & _WRITE_FLAGS and trusted_dir:
        check_dir(path.parent, f"directory of the {what}")
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse_link(path, what) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse_link(path, what)
        if flags & os.O_CREAT and not flags & os.O_EXCL and st.st_nlink > 1:
            raise DataError(
                f"{path}: the {what} has {st.st_nlink} hard links; ncctl writes only its own",
                hint=f"remove {path} and run again",
                code="file.hard_link",
            )
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(path: Path, mode: str, *, what: str, trusted_dir: bool = True) -> BinaryIO:
    """A binary file object (``rb``, ``ab``, ``r+b``, ``wb``) opened through :func:`open_fd`."""
    flags = {
        "rb": os.O_RDONLY,
        "ab": os.O_WRONLY | os.O_APPEND | os.O_CREAT,
        "r+b": os.O_RDWR,
        "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    }[mode]
    fd = open_fd(path, flags, what=what, trusted_dir=trusted_dir)
    return cast(BinaryIO, os.fdopen(fd, mode))


def create_exclusive(path: Path, *, what: str, mode: int = FILE_MODE) -> int:
    """A new file at ``path`` (O_EXCL: never an existing one, never through a link), with
    exactly ``mode``."""
    fd = open_fd(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, what=what, mode=mode)
    os.fchmod(fd, mode)
    return fd


def temp_name(path: Path) -> Path:
    """A fresh, unguessable temporary name beside ``path``: ``.NAME.PID.HEX.tmp``, the PID
    of the writer (:func:`stale_temps` reads it back)."""
    import secrets

    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


# -- atomic replace -----------------------------------------------------------------------


def _regular_or_absent(path: Path, what: str) -> None:
    """Refuse (untouched) anything at ``path`` but a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise refuse_link(path, what)


@contextlib.contextmanager
def atomic_writer(path: Path, *, what: str, mode: int = FILE_MODE) -> Iterator[BinaryIO]:
    """Write ``path`` all at once: the caller writes a temporary file (unique name, created
    O_EXCL with ``mode``); on success it is fsynced and renamed over ``path`` and the
    directory fsynced. A link or non-regular file at ``path`` is refused, untouched."""
    _regular_or_absent(path, what)
    tmp = temp_name(path)
    fd = create_exclusive(tmp, what=what, mode=mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            temp_files.sweep_temps(path.parent)  # the directory is checked: killed writers' files
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp, path, what=what)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes, *, what: str, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` atomically and durably (see :func:`atomic_writer`)."""
    with atomic_writer(path, what=what, mode=mode) as fh:
        fh.write(data)


def write_text_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`); the mode is ``mode``,
    else the existing file's (at most 0640), else 0640. Failing to write is exit 73."""
    if mode is None:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode) & FILE_MODE
        except FileNotFoundError:
            mode = FILE_MODE
    try:
        atomic_write(path, text.encode("utf-8"), what="file", mode=mode)
    except OSError as exc:
        raise CantCreateError(
            f"{path}: cannot write: {exc.strerror}",
            hint="check that the directory exists, is writable, and has free space",
        ) from None


def publish(tmp: Path, path: Path, *, what: str) -> None:
    """Rename ncctl's own file ``tmp`` to ``path`` (never over a link or a directory), and
    fsync the directory."""
    _regular_or_absent(path, what)
    tmp.rename(path)
    fsync_dir(path.parent)


def move(source: Path, target: Path, *, what: str) -> None:
    """Rename ``source`` (a regular file, not a link) to the new name ``target`` in a checked
    directory, never over anything already there."""
    check_dir(target.parent, f"directory of the {what}")
    st = os.lstat(source)
    if not stat.S_ISREG(st.st_mode):
        raise refuse_link(source, what)
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "already exists", str(target))
    source.rename(target)


def remove(path: Path) -> None:
    """Unlink ``path`` (a link itself, never its target), missing or not."""
    path.unlink(missing_ok=True)


# -- locks --------------------------------------------------------------------------------


def try_flock(fd: int, exclusive: bool = True) -> bool:
    """Take an ``flock`` without waiting; whether it was taken."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def try_read_lock(fd: int, length: int, start: int) -> bool:
    """Take a POSIX read lock (``lockf``, the kind SQLite uses) on ``length`` bytes of ``fd``
    from ``start``, without waiting; whether it was taken. It is released when the process
    closes any descriptor of that file."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, length, start)
    except OSError:
        return False
    return True


def flock_within(fd: int, timeout_s: float, *, exclusive: bool = True) -> bool:
    """Take an ``flock`` on ``fd``, waiting at most ``timeout_s``; whether it was taken."""
    return wait_until(lambda: try_flock(fd, exclusive), timeout_s)


def open_lock(path: Path, *, what: str) -> int:
    """The descriptor of lock file ``path`` (created 0640 in a checked directory, never
    through a link)."""
    try:
        ensure_dir(path.parent, "lock directory")
        return open_fd(path, os.O_RDWR | os.O_CREAT, what=what)
    except OSError as exc:
        raise CantCreateError(
            f"{path}: cannot create the {what}: {exc.strerror}",
            hint="check state_dir in the configuration and its permissions",
        ) from None


@contextlib.contextmanager
def locked(
    path: Path, timeout_s: float, *, what: str, busy: Callable[[int], Exception]
) -> Iterator[int]:
    """Hold an exclusive ``flock`` on ``path`` (waiting at most ``timeout_s``; then the
    exception ``busy(fd)`` is raised); yields the descriptor."""
    fd = open_lock(path, what=what)
    try:
        if not flock_within(fd, timeout_s):
            raise busy(fd)
        yield fd
    finally:
        os.close(fd)


def lock_busy(path: Path, what: str, timeout_s: float) -> TemporaryError:
    return TemporaryError(
        f"{path}: the {what} stayed locked for {timeout_s:g} s",
        hint="another ncctl is using it; run the command again",
        code="lock.busy",
    )


# -- SQLite -------------------------------------------------------------------------------


def sqlite_connect(
    path: Path, target: str, *, uri: bool, factory: type[C], what: str, timeout: float = 30
) -> C:
    """The one ``sqlite3.connect``: the database at ``path`` (``target`` is what SQLite is
    given: the path or a URI), after refusing a link at it or at its -wal/-shm/-journal
    companions (SQLite would follow those)."""
    if target != ":memory:":
        for name in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
            try:
                st = os.lstat(name)
            except FileNotFoundError:
                continue
            except OSError:
                break
            if not stat.S_ISREG(st.st_mode):
                raise refuse_link(name, what)
    import sqlite3

    db: Any = sqlite3.connect(
        target, timeout=timeout, isolation_level=None, uri=uri, factory=factory
    )
    assert isinstance(db, factory)
    return db
