"""Named locks between ncctl processes (cron and a person running the same thing at once).

A lock is an ``flock`` on ``state_dir/locks/NAME.lock``; its holder writes who it is into the
file. A second taker waits a bounded time, then fails with exit 75 naming the holder.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ncctl import floor
from ncctl.errors import CantCreateError, TemporaryError

HOLDER_WAIT_S = 1.0
"""How long a waiter gives a new holder to write who it is (it does so right after locking)."""
RUNNER_LOCK_WAIT_S = 60.0
"""How long a pass waits for the runner lock (held by a pass of cron or of an operator)."""


def _holder(fd: int) -> str:
    """Who holds the lock, as the holder wrote it into the lock file just after taking it;
    read again for a moment when the record is not there yet (or being rewritten)."""
    found: list[dict[str, object]] = []

    def readable() -> bool:
        try:
            doc = json.loads(os.pread(fd, 4096, 0).decode("utf-8", errors="replace"))
        except (OSError, ValueError):
            return False
        if isinstance(doc, dict) and "pid" in doc:
            found.append(doc)
            return True
        return False

    if not floor.wait_until(readable, HOLDER_WAIT_S):
        return "another ncctl process"
    doc = found[-1]
    return (
        f"pid {doc.get('pid')} ({doc.get('user')}@{doc.get('host')}, "
        f"`{doc.get('command')}`, since {doc.get('since')})"
    )


@contextlib.contextmanager
def hold(state_dir: Path, name: str, timeout_s: float, command: str = "") -> Iterator[None]:
    """Hold lock ``name``; wait at most ``timeout_s`` for it, then raise TemporaryError."""
    path = state_dir / "locks" / f"{name}.lock"

    def busy(fd: int) -> TemporaryError:
        return TemporaryError(
            f"the {name} lock is held by {_holder(fd)}",
            hint=f"wait for it to finish and run again (waited {timeout_s:g} s)",
            code="lock.busy",
        )

    with floor.locked(path, timeout_s, what="lock", busy=busy) as fd:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
        me = {
            "pid": os.getpid(),
            "user": user,
            "host": socket.gethostname(),
            "command": command or " ".join(sys.argv[1:])[:200],
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        record = json.dumps(me).encode()
        os.pwrite(fd, record, 0)  # written over, then cut: never an empty record to read
        os.ftruncate(fd, len(record))
        yield


def open_lock_file(path: Path) -> int:
    """The descriptor of the instance lock file ``path`` (created by the file floor: never
    through a link, in a checked directory), which must also be this user's own; one that
    others can read is narrowed to 0600."""
    fd = floor.open_lock(path, what="instance lock file")
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            raise CantCreateError(
                f"{path}: cannot use the instance lock file: it belongs to another user",
                hint=f"remove {path} (ncctl creates it)",
            )
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd
