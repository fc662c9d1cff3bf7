"""Whether any process still holds a file open for writing, and which.

A renamed live file may be compressed and removed only once nothing writes to it any more.
:func:`scan` answers for any number of files at once, from two sources:

* the kernel's own count of writers: a read lease (``F_SETLEASE``, ``F_RDLCK``, taken and
  dropped at once on a descriptor opened read-only with ``O_NOFOLLOW``) is refused while any
  descriptor anywhere is open for writing on the file, in every PID namespace and whatever
  /proc lets ncctl see. It says *whether*; file systems without leases (NFS) do not say;
* /proc, to say *which*: ``os.stat("/proc/PID/fd/N")`` gives the (st_dev, st_ino) a
  descriptor refers to (the kernel's own link: no file is opened through it), and for a
  descriptor of one of the files ``/proc/PID/fdinfo/N`` gives its access mode (the octal
  ``flags:`` line): ``O_WRONLY`` or ``O_RDWR`` is a writer. A reader (``tail -f``, an
  uploader) holds nothing back.

A file is free only when no writer is seen in /proc and the kernel does not count one (when
the kernel counts none on any of the files, /proc is not searched at all: the usual case
costs two system calls a file, whatever the number of processes). When
that cannot be known it is never free: without /proc, or when a process's descriptors cannot
be read (EACCES: another user's process and no CAP_SYS_PTRACE, or a more privileged one) and
the kernel's count is not available either, the caller keeps the file and says why. A
process that ends during the scan is skipped.
"""

# Plain strings and os.* calls, not pathlib: a scan makes thousands of them (benchmarked).
# ruff: noqa: PTH112, PTH116, PTH123, PTH208

from __future__ import annotations

import errno
import fcntl
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

FileId = tuple[int, int]
"""(st_dev, st_ino) of a regular file: what :func:`ncctl.floor.file_id` returns."""

_WRITE_MODES = (os.O_WRONLY, os.O_RDWR)


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
    """The outcome of one scan: writers seen by file, the kernel's answer by file (True: it
    counts a writer; None: it cannot tell), and why /proc could not be read in full."""

    writers: dict[FileId, list[Holder]] = field(default_factory=dict)
    kernel: dict[FileId, bool | None] = field(default_factory=dict)
    unknown: str | None = None
    no_proc: bool = False

    def free(self, fid: FileId) -> bool:
        """True only when nothing writes to ``fid`` and that is known for certain."""
        if self.no_proc or self.writers.get(fid):
            return False
        counted = self.kernel.get(fid)
        if counted is not None:
            return not counted
        return self.unknown is None

    def reason(self, fid: FileId) -> str:
        """Why ``fid`` is not free (empty when it is)."""
        if self.free(fid):
            return ""
        holders = self.writers.get(fid)
        if holders:
            return "still open for writing by " + ", ".join(h.describe() for h in holders)
        if self.kernel.get(fid):
            unseen = self.unknown or "another PID namespace?"
            return f"still open for writing by a process ncctl cannot see ({unseen})"
        return f"cannot tell whether a process writes to it: {self.unknown}"


def kernel_counts_writer(path: Path, fid: FileId) -> bool | None:
    """Whether the kernel counts a descriptor open for writing on ``path`` (the file
    ``fid``): a read lease is refused then. None when it cannot tell (no leases on this
    file system, or ``path`` is no longer that file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    # Someone opening the file for writing while the lease exists makes the kernel send
    # SIGIO (deadly by default) to the lease holder: block it here, send it nowhere
    # (F_SETOWN 0) as soon as the lease is taken, and drop one that came in between.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGIO})
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != fid:
            return None
        try:
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:
            return True if exc.errno == errno.EAGAIN else None
        fcntl.fcntl(fd, fcntl.F_SETOWN, 0)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)
        if signal.SIGIO not in blocked:
            signal.sigtimedwait({signal.SIGIO}, 0)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


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


def scan(targets: Mapping[FileId, Path], proc: Path = Path("/proc"), *, name: bool = True) -> Usage:
    """Whether anything writes to each of ``targets`` (identity -> path), and who (not
    searched when ``name`` is false and the kernel answered for every file)."""
    usage = Usage()
    wanted = set(targets)
    if not wanted:
        return usage
    usage.kernel = {fid: kernel_counts_writer(path, fid) for fid, path in targets.items()}
    root = str(proc)
    if not os.path.isdir(f"{root}/self/fd"):
        usage.no_proc = True
        usage.unknown = f"{root} is not mounted (no {root}/self/fd)"
        return usage
    if all(counted is False for counted in usage.kernel.values()):
        return usage  # the kernel counts no writer on any of them: nobody to name
    if not name and None not in usage.kernel.values():
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
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM):
                    usage.unknown = usage.unknown or f"{fd_dir}/{fd}: {exc.strerror}"
                    break
                continue  # closed meanwhile
            fid = (st.st_dev, st.st_ino)
            if fid not in wanted:
                continue
            writes = _writes(pid_dir, fd)
            if writes:
                usage.writers.setdefault(fid, []).append(Holder(int(pid), int(fd), _comm(pid_dir)))
    return usage
