"""Reading processes from /proc (under a root, so tests and containers can point elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    start_ticks: int

    @property
    def alive(self) -> bool:
        """Running or sleeping; a zombie (Z) or dead (X) process is not alive."""
        return self.state not in ("Z", "X", "x")


def read_stat(pid: int, proc: Path = Path("/proc")) -> ProcStat | None:
    """State and start time (clock ticks after boot, field 22) of ``pid``, or None."""
    try:
        raw = (proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError, PermissionError):
        return None
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces or parentheses
    close = raw.rfind(")")
    if close < 0:
        return None
    fields = raw[close + 2 :].split()
    try:
        return ProcStat(pid=pid, state=fields[0], start_ticks=int(fields[19]))
    except (IndexError, ValueError):
        return None


def boot_time(proc: Path = Path("/proc")) -> float | None:
    """Seconds since the epoch at boot (``btime`` in /proc/stat)."""
    try:
        for line in (proc / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None
