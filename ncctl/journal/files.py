"""Opening the journal file safely, and reading its tail without reading the rest.

The journal is opened with ``O_NOFOLLOW`` after an ``lstat`` that refuses anything but a
regular file (a directory, FIFO, device or symbolic link is never opened, so nothing blocks and
no device sees an ``open``). Every failure is a one-line NcctlError naming the path.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import sys
import time
from pathlib import Path

from ncctl import floor
from ncctl.errors import (
    CantCreateError,
    DataError,
    NcctlError,
    PermissionDeniedError,
    TemporaryError,
)
from ncctl.journal.records import EMPTY, Head, sha

LOCK_TIMEOUT_S = 30.0
BLOCK = 64 * 1024
MAX_BLOCK = 8 * 1024 * 1024

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFSOCK: "a socket",
}


def _not_regular(path: Path, mode: int) -> DataError:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return DataError(
        f"{path}: the journal is {kind}, not a regular file",
        hint=f"move {path.name} aside (mv) and investigate; ncctl never reads or writes through it",
        code="journal.not_a_file",
    )


def os_error(path: Path, exc: OSError, doing: str, *, writing: bool) -> NcctlError:
    """The NcctlError for an OSError met while ``doing`` something to the journal."""
    message = f"{path}: cannot {doing} the journal: {exc.strerror or exc}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDeniedError(
            message, hint=f"run ncctl as the owner of {path.parent} (root) or fix its permissions"
        )
    if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.ENOTDIR):
        return DataError(
            message, hint=f"move {path.name} aside and investigate", code="journal.not_a_file"
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return TemporaryError(
            message,
            hint=f"free space on the file system of {path.parent}, then run the command again",
            code="journal.no_space",
        )
    if exc.errno == errno.EFBIG:
        return CantCreateError(
            message,
            hint="the file-size limit (ulimit -f) or the file system's largest file was reached; "
            "raise the limit, then run the command again",
            code="journal.too_big",
        )
    if writing:
        return CantCreateError(message, hint=f"check {path.parent}: is it writable?")
    return DataError(message, hint=f"check {path} and the disk under it")


def lstat_journal(path: Path) -> os.stat_result | None:
    """The journal's own status (None when it does not exist); refuses anything irregular."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error(path, exc, "inspect", writing=False) from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode)
    return st


def open_journal(path: Path, *, write: bool) -> int | None:
    """A descriptor on the journal (read-only, or read-write append, creating it 0640);
    None when reading one that does not exist."""
    if lstat_journal(path) is None and not write:
        return None
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT if write else os.O_RDONLY
    try:
        if write:
            floor.ensure_dir(path.parent, "state directory")
        fd = floor.open_fd(path, flags, what="journal")
    except FileNotFoundError:
        if write:
            raise CantCreateError(
                f"{path}: cannot create the journal: its directory is missing",
                hint="check state_dir in the configuration",
            ) from None
        return None
    except OSError as exc:
        raise os_error(path, exc, "open", writing=write) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _not_regular(path, st.st_mode)
    return fd


def lock(fd: int, path: Path, kind: int, timeout_s: float = LOCK_TIMEOUT_S) -> None:
    """``flock`` with a deadline: a holder that never lets go is exit 75, not a hang."""
    if not floor.flock_within(fd, timeout_s, exclusive=kind == fcntl.LOCK_EX):
        raise TemporaryError(
            f"{path}: the journal stayed locked for {timeout_s:g} s",
            hint="another ncctl is writing it; run the command again",
            code="journal.locked",
        )


def _line_start(fd: int, end: int) -> int:
    """Offset just after the last newline before ``end`` (0 when there is none); reads
    backward in growing blocks: linear in the distance, independent of the file's size."""
    pos = end
    block = BLOCK
    while pos > 0:
        step = min(block, pos)
        pos -= step
        chunk = os.pread(fd, step, pos)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return pos + i + 1
        block = min(block * 2, MAX_BLOCK)
    return 0


def set_aside_partial(fd: int, path: Path, size: int) -> dict[str, object] | None:
    """A last line without its newline (a write cut short by a crash or a full disk) is copied
    to ``journal.jsonl.partial-<ns>`` (0600) and cut off, so that nothing is ever glued onto
    it. Returns what was set aside, or None when the file ends with a complete line."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    start = _line_start(fd, size)
    aside = path.with_name(f"{path.name}.partial-{time.time_ns()}")
    try:
        out = floor.create_exclusive(aside, what="journal's set-aside line", mode=0o600)
        try:
            pos = start
            while pos < size:
                block = os.pread(fd, min(MAX_BLOCK, size - pos), pos)
                os.write(out, block)
                pos += len(block)
            os.fsync(out)
        finally:
            os.close(out)
        os.ftruncate(fd, start)
        os.fsync(fd)
    except OSError as exc:
        aside.unlink(missing_ok=True)
        raise os_error(path, exc, "set aside the incomplete last line of", writing=True) from None
    sys.stderr.write(
        f"warning: {path}: an incomplete last line ({size - start} bytes at offset {start}, "
        f"left by an interrupted write) was set aside as {aside.name}\n"
    )
    return {"set_aside": aside.name, "offset": start, "bytes": size - start}


def derive_head(fd: int, size: int) -> Head:
    """The head of a journal whose last byte at ``size`` is a newline, read backward: the
    last line's hash, its ``seq`` for the count (counting newlines only for lines written
    before ``seq`` existed)."""
    if size == 0:
        return EMPTY
    start = _line_start(fd, size - 1)
    text = os.pread(fd, size - 1 - start, start)
    try:
        seq = json.loads(text).get("seq")
    except (ValueError, AttributeError):
        seq = None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        seq = count_lines(fd, size)
    return Head(seq, sha(text), size)


def count_lines(fd: int, size: int) -> int:
    count, pos = 0, 0
    while pos < size:
        block = os.pread(fd, min(MAX_BLOCK, size - pos), pos)
        if not block:
            break
        count += block.count(b"\n")
        pos += len(block)
    return count
