"""Reading processes from /proc (under a root, so tests and containers can point elsewhere)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

MAX_FDS_SCANNED = 65536
"""At most this many open files of one process are looked at when looking for a lock file."""


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    start_ticks: int
    ppid: int = 0

    @property
    def alive(self) -> bool:
        """Running or sleeping; a zombie (Z) or dead (X) process is not alive."""
        return self.state not in ("Z", "X", "x")


def read_stat(pid: int, proc: Path = Path("/proc")) -> ProcStat | None:
    """State, parent and start time (clock ticks after boot, field 22) of ``pid``, or None."""
    try:
        raw = (proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces or parentheses
    close = raw.rfind(")")
    if close < 0:
        return None
    fields = raw[close + 2 :].split()
    try:
        return ProcStat(pid=pid, state=fields[0], start_ticks=int(fields[19]), ppid=int(fields[1]))
    except (IndexError, ValueError):
        return None


def cmdline(pid: int, proc: Path = Path("/proc")) -> list[str]:
    """The command line of ``pid`` (empty when it is gone or has none)."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode("utf-8", errors="replace").split("\0")[:-1] if raw else []


def pids(proc: Path = Path("/proc")) -> list[int]:
    """Every process id in ``proc``."""
    try:
        return [int(e.name) for e in proc.iterdir() if e.name.isdigit()]
    except OSError:
        return []


def boot_time(proc: Path = Path("/proc")) -> float | None:
    """Seconds since the epoch at boot (``btime`` in /proc/stat)."""
    try:
        for line in (proc / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def started_at(start_ticks: int, proc: Path = Path("/proc")) -> dt.datetime | None:
    """When a process that started ``start_ticks`` clock ticks after boot started (UTC)."""
    booted = boot_time(proc)
    if booted is None:
        return None
    return dt.datetime.fromtimestamp(booted + start_ticks / os.sysconf("SC_CLK_TCK"), dt.UTC)


def alive_children(pid: int, proc: Path = Path("/proc")) -> list[ProcStat]:
    """The live processes whose parent is ``pid``, oldest first."""
    found: list[ProcStat] = []
    for entry in pids(proc):
        child = read_stat(entry, proc)
        if child is not None and child.ppid == pid and child.alive:
            found.append(child)
    return sorted(found, key=lambda s: (s.start_ticks, s.pid))


def _flock_writers(proc: Path) -> list[tuple[int, str]]:
    """(pid, "MAJ:MIN:INODE") of every exclusive flock held (not waited for), /proc/locks."""
    try:
        lines = (proc / "locks").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return []
    held: list[tuple[int, str]] = []
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 fe:00:2146517 0 EOF"; a waiter has "->" after "1:"
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "WRITE":
            continue
        if fields[4].isdigit() and fields[5].count(":") == 2:
            held.append((int(fields[4]), fields[5]))
    return held


def _file_id(path: Path) -> str | None:
    """The "MAJ:MIN:INODE" of the regular file ``path`` as /proc/locks writes it, or None."""
    from ncctl.floor import file_id

    ident = file_id(path)
    if ident is None:
        return None
    dev, ino = ident
    return f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"


def _has_open(pid: int, path: Path, file_id: str, proc: Path) -> bool:
    """Whether ``pid`` has the file ``file_id``, opened as ``path`` (deleted since or not).

    Only for a process of this mount namespace: in another one ``path`` names another file (a
    second host's state directory on its own file system, whose inode numbers may well be the
    same), and only the same file (device and inode) makes it the holder."""
    if not _same_mount_namespace(pid, proc):
        return False
    inode = int(file_id.rsplit(":", 1)[1])
    names = {str(path), f"{path} (deleted)"}
    fd_dir = proc / str(pid) / "fd"
    try:
        fds = list(itertools.islice(fd_dir.iterdir(), MAX_FDS_SCANNED))
    except OSError:
        return False
    for fd in fds:
        try:
            if str(fd.readlink()) in names and fd.stat().st_ino == inode:
                return True
        except OSError:
            continue
    return False


def _same_mount_namespace(pid: int, proc: Path) -> bool:
    """Whether ``pid`` sees the same mounts as this process (True when it cannot be told: the
    path then names the same file as it did before namespaces were looked at)."""
    try:
        theirs, ours = (proc / who / "ns" / "mnt" for who in (str(pid), "self"))
        return theirs.readlink() == ours.readlink()
    except OSError:
        return True


def flock_holders(path: Path, proc: Path = Path("/proc")) -> list[int]:
    """The pids that hold an exclusive flock on the lock file ``path`` (an absolute path
    without symbolic links), also when that file has since been deleted or replaced: the
    kernel's lock table (/proc/locks) names the holder and the file (device and inode); a
    file that is no longer at ``path`` is recognised among the holder's open files."""
    here = _file_id(path)
    holders: list[int] = []
    for pid, file_id in _flock_writers(proc):
        if pid not in holders and (file_id == here or _has_open(pid, path, file_id, proc)):
            holders.append(pid)
    return holders
