"""The files a component's supervisor writes, as ncctl reads them: the pidfile (never trusted,
only checked against the kernel's view), the exit file, and the tail of the log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl.components.procfs import ProcStat, read_stat

LOG_TAIL_LINES = 10


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_ticks: int | None
    supervisor: int | None
    supervisor_start_ticks: int | None
    started_at: dt.datetime | None


@dataclass(frozen=True)
class Instance:
    """The running instance, as the kernel sees it: the supervisor holding the instance lock
    and its live child, the component (None for the moments it has none)."""

    supervisor: int
    supervisor_start_ticks: int
    pid: int | None
    start_ticks: int | None
    since: dt.datetime | None


PIDFILE_LIMIT = 64 * 1024
PIDFILE_DAMAGED = "damaged pidfile"
"""How a status detail about a pidfile that is not trusted begins."""


def _int_or_none(doc: dict[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"has no usable {key} ({value!r})")
    return value


def parse_pidfile(raw: bytes) -> PidRecord:
    """The record of a pidfile the supervisor wrote; ValueError says what is wrong."""
    if not raw.strip():
        raise ValueError("is empty")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("is not the JSON the supervisor writes") from None
    if not isinstance(doc, dict):
        raise ValueError("is not the JSON object the supervisor writes")
    pid = _int_or_none(doc, "pid")
    if pid is None or pid > 2**22:
        raise ValueError(f"has no usable pid ({doc.get('pid')!r})")
    ticks = _int_or_none(doc, "start_ticks")
    if ticks is None:
        raise ValueError("has no start time (start_ticks): its pid cannot be checked")
    started = doc.get("started_at")
    try:
        since = dt.datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        since = None
    return PidRecord(
        pid=pid,
        start_ticks=ticks,
        supervisor=_int_or_none(doc, "supervisor"),
        supervisor_start_ticks=_int_or_none(doc, "supervisor_start_ticks"),
        started_at=since,
    )


def tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a text file (empty if there is none)."""
    if path is None:
        return []
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


def read_pidfile(pidfile: Path) -> tuple[PidRecord | None, str | None]:
    """The pidfile's record, or (None, what is wrong with it); (None, None) when there is
    none. A damaged pidfile is never trusted."""
    from ncctl.errors import NcctlError
    from ncctl.small_files import file_kind, read_capped

    try:
        if file_kind(pidfile, "the pidfile") is None:
            return None, None
        raw = read_capped(pidfile, what="the pidfile", limit=PIDFILE_LIMIT, error=NcctlError)
    except NcctlError as err:
        return None, err.message.removeprefix(f"{pidfile}: ")
    try:
        return parse_pidfile(raw), None
    except ValueError as exc:
        return None, f"the pidfile {exc}"


def pidfile_warning(
    pidfile: Path, proc: Path, inst: Instance | None, rec: PidRecord | None, problem: str | None
) -> str:
    """What is wrong with the pidfile (it is never trusted) next to the running instance
    ``inst``, or ''."""
    if problem is None and rec is not None:
        stat = read_stat(rec.pid, proc)
        if inst is not None and (rec.pid, rec.start_ticks) != (inst.pid, inst.start_ticks):
            problem = (
                f"its start time is not that of pid {rec.pid}"
                if rec.pid == inst.pid
                else f"it names pid {rec.pid}, not the running instance (pid {inst.pid})"
            )
        elif inst is None and stat is not None and stat.alive:
            problem = (
                f"pid {rec.pid} now belongs to another process"
                if stat.start_ticks != rec.start_ticks
                else f"pid {rec.pid} is alive but holds no instance lock"
            )
    if problem is None:
        return ""
    return f"{PIDFILE_DAMAGED} {pidfile}: {problem}; it is not trusted"


def read_exit_code(exit_file: Path) -> int | None:
    """The exit status the supervisor recorded, or None."""
    try:
        code = json.loads(exit_file.read_text(encoding="utf-8")).get("exit_code")
    except (OSError, ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def recorded_child(instance_lock: Path, supervisor: int, proc: Path) -> ProcStat | None:
    """The component the supervisor recorded in its instance lock file, if /proc confirms it
    (alive, a child of ``supervisor``, with the recorded start time); else None."""
    from ncctl.errors import NcctlError
    from ncctl.small_files import read_capped

    try:
        raw = read_capped(instance_lock, what="the lock", limit=PIDFILE_LIMIT, error=NcctlError)
        rec = parse_pidfile(raw)
    except (NcctlError, ValueError):
        return None
    child = read_stat(rec.pid, proc)
    if child and child.alive and (child.ppid, child.start_ticks) == (supervisor, rec.start_ticks):
        return child
    return None
