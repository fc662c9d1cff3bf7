"""Reading ncctl's own small files (the configuration, the shared clock) without surprises.

A file is looked at with ``lstat`` first and opened ``O_NOFOLLOW | O_NONBLOCK``: a symbolic
link, a FIFO (which would block a reader forever), a device (``/dev/zero`` never ends) or a
directory is refused by name, and a regular file is read only up to a cap after ``fstat``.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ncctl.errors import NcctlError, PermissionDeniedError

MIB = 1024 * 1024

_KINDS = (
    (stat.S_ISREG, "regular file"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISLNK, "symbolic link"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` is, in words."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "special file"


def file_kind(path: Path, what: str, error: type[NcctlError] = PermissionDeniedError) -> str | None:
    """What is at ``path`` without following a link (None: nothing). A path that cannot be
    looked at raises ``error`` (PermissionDeniedError unless told)."""
    try:
        return kind_of(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ValueError:  # a NUL byte in the name
        raise error(f"{path!r}: not a usable file name", hint="check the path") from None
    except OSError as exc:
        raise error(
            f"{path}: cannot look at {what}: {exc.strerror}",
            hint="check the permissions of the directories above it",
        ) from None


def read_capped(
    path: Path,
    *,
    what: str,
    limit: int,
    error: type[NcctlError],
    missing_hint: str = "check the path",
    denied: type[NcctlError] | None = None,
) -> bytes:
    """The content of the regular file at ``path``, at most ``limit`` bytes, or ``error``
    naming it (``denied`` for a permission problem, ``error`` unless told)."""
    denied = denied or error
    kind = file_kind(path, what, error)
    if kind is None:
        raise error(f"{path}: {what} not found", hint=missing_hint)
    if kind != "regular file":
        hint = "pass a regular file"
        if kind == "symbolic link":
            target = os.path.realpath(path)
            hint = f"ncctl does not follow symbolic links here; use the file itself ({target})"
        raise error(f"{path}: {what} is a {kind}, not a regular file", hint=hint)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise denied(
                f"{path}: {what} is not readable (permission denied)",
                hint="check the file's owner and mode",
            ) from None
        raise error(f"{path}: cannot open {what}: {exc.strerror}", hint="check the path") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(
                f"{path}: {what} is a {kind_of(st.st_mode)}, not a regular file",
                hint="pass a regular file",
            )
        if st.st_size > limit:
            raise error(
                f"{path}: {what} is too large ({st.st_size} bytes; at most {limit})",
                hint=f"check that {path.name} is the right file",
            )
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            block = os.read(fd, min(left, MIB))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}", hint="check the path") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise error(
            f"{path}: {what} is too large (more than {limit} bytes)",
            hint=f"check that {path.name} is the right file",
        )
    return data
