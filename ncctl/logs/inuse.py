"""Which processes still hold a file open for writing, read from /proc.

A renamed live file may be compressed and removed only once no process writes to it any
more. :func:`scan` looks at every descriptor of every process once, for any number of files:

* ``os.stat("/proc/PID/fd/N")`` gives the (st_dev, st_ino) the descriptor refers to. This
  asks the kernel about its own link; no file is opened through it;
* for a descriptor of one of the files, ``/proc/PID/fdinfo/N`` gives its access mode (the
  octal ``flags:`` line): ``O_WRONLY`` or ``O_RDWR`` makes the process a writer. A reader
  (``tail -f``, an uploader) does not hold the rotation back.

When the answer cannot be known it is never "free": a process whose descriptors cannot be
read (EACCES: another user's process and no CAP_SYS_PTRACE) or a missing /proc makes every
file *unknown*, and the caller keeps them. A process that ends during the scan is skipped.

Not seen: processes in another PID namespace (run ncctl in the writers' namespace), threads
created with their own descriptor table, and writable shared memory mappings.
"""

# Plain strings and os.* calls, not pathlib: a scan makes thousands of them (benchmarked).
# ruff: noqa: PTH112, PTH116, PTH123, PTH208

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

FileId = tuple[int, int]
"""(st_dev, st_ino) of a regular file."""

_WRITE_MODES = (os.O_WRONLY, os.O_RDWR)


def file_id(path: Path) -> FileId | None:
    """The identity of ``path`` if it is a regular file; None otherwise. A symbolic link is
    not followed (it is not a file ncctl rotates)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino)


@dataclass(frozen=True)
class Holder:
    """One descriptor open for writing on a watched file."""

    pid: int
    fd: int
    comm: str

    def as_dict(self) -> dict[str, int | str]:
        return {"pid": self.pid, "fd": self.fd, "comm": self.comm}

    def describe(self) -> str:
        return f"pid {self.pid} ({self.comm}) fd {self.fd}"


@dataclass
class Usage:
    """The outcome of one scan: writers by file, and why the scan is incomplete (if it is)."""

    writers: dict[FileId, list[Holder]] = field(default_factory=dict)
    unknown: str | None = None

    def free(self, fid: FileId) -> bool:
        """True only when no process holds ``fid`` for writing and the scan was complete."""
        return self.unknown is None and not self.writers.get(fid)

    def reason(self, fid: FileId) -> str:
        """Why ``fid`` is not free (empty when it is)."""
        holders = self.writers.get(fid)
        if holders:
            return "still open for writing by " + ", ".join(h.describe() for h in holders)
        if self.unknown is not None:
            return f"cannot tell whether a process writes to it: {self.unknown}"
        return ""


def _comm(pid_dir: str) -> str:
    try:
        with open(f"{pid_dir}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return "?"


def _writes(pid_dir: str, fd: str) -> bool | None:
    """Whether descriptor ``fd`` is open for writing; None when it closed meanwhile."""
    try:
        with open(f"{pid_dir}/fdinfo/{fd}", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags:"):
                    return (int(line.split()[1], 8) & os.O_ACCMODE) in _WRITE_MODES
    except FileNotFoundError:
        return None
    except (OSError, ValueError, IndexError):
        pass
    return True  # unreadable flags: count it as a writer, never as free


def scan(targets: Collection[FileId], proc: Path = Path("/proc")) -> Usage:
    """Every process descriptor open for writing on one of ``targets``."""
    usage = Usage()
    wanted = set(targets)
    if not wanted:
        return usage
    root = str(proc)
    if not os.path.isdir(f"{root}/self/fd"):
        usage.unknown = f"{root} is not mounted (no {root}/self/fd)"
        return usage
    with os.scandir(root) as entries:
        pids = [e.name for e in entries if e.name.isdigit()]
    for pid in pids:
        pid_dir = f"{root}/{pid}"
        fd_dir = f"{pid_dir}/fd"
        try:
            fds = os.listdir(fd_dir)
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        except OSError as exc:
            if usage.unknown is None:
                usage.unknown = f"{fd_dir}: {exc.strerror}"
            continue
        for fd in fds:
            try:
                st = os.stat(f"{fd_dir}/{fd}")
            except OSError:
                continue  # closed meanwhile (or a descriptor with no file behind it)
            fid = (st.st_dev, st.st_ino)
            if fid not in wanted:
                continue
            writes = _writes(pid_dir, fd)
            if writes:
                usage.writers.setdefault(fid, []).append(Holder(int(pid), int(fd), _comm(pid_dir)))
    return usage
