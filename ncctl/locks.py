"""Named locks between ncctl processes (cron and a person running the same thing at once).

A lock is an ``flock`` on ``state_dir/locks/NAME.lock``; its holder writes who it is into the
file. A second taker waits a bounded time, then fails with exit 75 naming the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ncctl.errors import CantCreateError, TemporaryError

POLL_S = 0.05


def _holder(fd: int) -> str:
    try:
        raw = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
        doc = json.loads(raw)
        return (
            f"pid {doc.get('pid')} ({doc.get('user')}@{doc.get('host')}, "
            f"`{doc.get('command')}`, since {doc.get('since')})"
        )
    except (OSError, ValueError, AttributeError):
        return "another ncctl process"


@contextlib.contextmanager
def hold(state_dir: Path, name: str, timeout_s: float, command: str = "") -> Iterator[None]:
    """Hold lock ``name``; wait at most ``timeout_s`` for it, then raise TemporaryError."""
    path = state_dir / "locks" / f"{name}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    except OSError as exc:
        raise CantCreateError(
            f"{path}: cannot create the lock: {exc.strerror}",
            hint="check state_dir in the configuration and its permissions",
        ) from None
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TemporaryError(
                        f"the {name} lock is held by {_holder(fd)}",
                        hint=f"wait for it to finish and run again (waited {timeout_s:g} s)",
                        code="lock.busy",
                    ) from None
                time.sleep(POLL_S)
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
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield
    finally:
        os.close(fd)


def open_lock_file(path: Path) -> int:
    """Open (creating it, mode 0600) the lock file ``path`` for reading and writing, never
    through a symbolic link: it must be a regular file of this user with no other name.
    A file readable by others is narrowed to 0600. CantCreateError names what is wrong."""
    import stat

    def refused(why: str, hint: str) -> CantCreateError:
        return CantCreateError(f"{path}: cannot use the lock file: {why}", hint=hint)

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd = os.open(
            path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600
        )
    except OSError as exc:
        if path.is_symlink():
            raise refused(
                "it is a symbolic link", f"remove the link (ncctl creates {path.name} itself)"
            ) from None
        raise refused(
            exc.strerror or str(exc), "check state_dir in the configuration and its permissions"
        ) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refused("it is not a regular file", f"remove {path} (ncctl creates it)")
        if st.st_uid != os.geteuid() or st.st_nlink != 1:
            raise refused(
                "it belongs to another user or has other names (hard links)",
                f"remove {path} (ncctl creates it)",
            )
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd
