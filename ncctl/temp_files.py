"""ncctl's own temporary files that no writer will rename any more, and their removal.

Atomic writers (:func:`ncctl.floor.temp_name`) name a temporary ``.NAME.PID.HEX.tmp`` beside
its target; a writer killed between creating and renaming it leaves it behind. The next
atomic write into that directory (and the next state database build) sweeps such files: a
regular file, not a link, owned by this user, whose writer's PID is gone or that is older than
a day. A writer in another PID namespace sharing the directory is not supported, and a zombie
writer counts as alive."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

STALE_TEMP_S = 24 * 3600
"""A temporary file this old is stale even when a process has its writer's PID (a reused
PID): no write ncctl makes lasts a day."""
SWEEP_EVERY_S = 60.0
"""A process sweeps a directory at most this often (a rotation writing a thousand archives
into one directory lists it once)."""

_last_sweep: dict[str, float] = {}
"""When this process last swept each directory (``time.monotonic``), by absolute path."""


def temp_writer(name: str) -> int | None:
    """The writer's PID in a name :func:`temp_name` made (or in the name of an SQLite
    companion of one: ``-journal``, ``-wal``, ``-shm``, beside a database being built by
    ``ncctl.statedb``); None for any other name."""
    import re

    named = re.fullmatch(
        r"\.(?:.+)\.([0-9]{1,10})\.[0-9a-f]{12}\.tmp(?:-journal|-wal|-shm)?", name, re.S
    )
    return None if named is None else int(named[1])


def _alive(pid: int) -> bool:
    """Whether a process with this PID exists (this one included; a zombie counts)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False  # never signal a process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, OSError):
        return False
    return True


def stale_temps(directory: Path, *, now: float | None = None) -> list[Path]:
    """ncctl's own temporary files in ``directory`` that no writer will rename any more:
    named as :func:`temp_name` names them (or an SQLite companion of one), a regular file
    (not a link), owned by this process's user, and either its writer's PID is no longer
    alive or it is older than STALE_TEMP_S. Sorted by name; empty when unreadable."""
    try:
        names = sorted(p.name for p in directory.iterdir())
    except OSError:
        return []
    now = time.time() if now is None else now
    found = []
    for name in names:
        pid = temp_writer(name)
        if pid is None:
            continue
        path = directory / name
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            continue
        if now - st.st_mtime > STALE_TEMP_S or not _alive(pid):
            found.append(path)
    return found


def sweep_temps(directory: Path) -> list[Path]:
    """Remove the stale temporary files of ``directory`` (:func:`stale_temps`) before ncctl
    writes there, at most once every SWEEP_EVERY_S per directory and process; the ones
    removed. Best effort: a file that cannot be removed stays, and the write goes on."""
    key = str(directory.absolute())
    now = time.monotonic()
    last = _last_sweep.get(key)
    if last is not None and now - last < SWEEP_EVERY_S:
        return []
    _last_sweep[key] = now
    removed = []
    for path in stale_temps(directory):
        try:
            path.unlink()  # a regular file a moment ago; a link swapped in is unlinked itself
        except OSError:
            continue
        removed.append(path)
    return removed
