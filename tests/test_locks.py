"""Named locks: a waiter that gives up names the holder, even when it looks at the very
moment the holder has taken the lock but not yet written who it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ncctl.errors import TemporaryError
from ncctl.locks import hold


def test_a_busy_lock_names_its_holder(tmp_path: Path) -> None:
    with (
        hold(tmp_path, "runner", 1.0, "first"),
        pytest.raises(TemporaryError) as info,
        hold(tmp_path, "runner", 0.1, "second"),
    ):
        pass
    assert f"held by pid {os.getpid()}" in info.value.message
    assert "`first`" in info.value.message


@pytest.mark.slow
def test_a_holder_that_writes_its_record_late_is_still_named(tmp_path: Path) -> None:
    """Another process holds the lock with an empty record and writes it a moment later
    (the window between flock and the write): the waiter names it, not 'another process'."""
    path = tmp_path / "locks" / "runner.lock"
    path.parent.mkdir(mode=0o750)
    path.touch(mode=0o640)
    script = (
        "import fcntl, json, os, sys\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "sys.stdout.write('locked\\n'); sys.stdout.flush()\n"
        "sys.stdin.readline()\n"
        "os.pwrite(fd, json.dumps({'pid': os.getpid(), 'command': 'late'}).encode(), 0)\n"
        "sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "locked\n"
        stdin = holder.stdin
        # the record appears while the waiter is already looking at the empty file
        timer = threading.Timer(0.3, lambda: (stdin.write("\n"), stdin.flush()))
        timer.start()
        with pytest.raises(TemporaryError) as info, hold(tmp_path, "runner", 0.0, "waiter"):
            pass
        timer.join()
        assert f"held by pid {holder.pid}" in info.value.message, info.value.message
        assert json.loads(path.read_text())["command"] == "late"
    finally:
        holder.kill()
        holder.wait(timeout=10)
