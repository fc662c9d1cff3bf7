"""A lock holder is recognised by its file (device and inode), not by path and inode number.

Two mount namespaces, each with its own fresh tmpfs on the same path, give their first files the
same inode number. A process of one namespace holding the instance lock there is not the holder
of the other namespace's lock file of the same name (the fleet runs one such "host" per
namespace when they share a PID namespace)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) is missing"),
]

HOLDER = """
import fcntl, os, subprocess, sys
d = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "t", d], check=True)
f = open(os.path.join(d, "feed_handler.lock"), "w")
fcntl.flock(f, fcntl.LOCK_EX)
print(os.fstat(f.fileno()).st_ino, flush=True)
sys.stdin.read()
"""

LOOKER = """
import json, os, subprocess, sys
from pathlib import Path
from ncctl.components.procfs import flock_holders
d = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "t", d], check=True)
path = Path(d) / "feed_handler.lock"
path.write_text("")
print(json.dumps({"inode": os.stat(path).st_ino, "holders": flock_holders(path)}), flush=True)
"""


def _in_own_namespace(code: str, directory: Path) -> list[str]:
    """``code`` run by this Python in a mount namespace of its own, given ``directory``."""
    program = [sys.executable, "-c", code, str(directory)]
    return ["unshare", "--mount", "--propagation", "private", *program]


def test_a_holder_in_another_mount_namespace_with_the_same_inode_is_not_this_lock_s(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    holder = subprocess.Popen(
        _in_own_namespace(HOLDER, directory),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        held_inode = int(holder.stdout.readline())  # the lock is held once this line is out
        looked = subprocess.run(
            _in_own_namespace(LOOKER, directory),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        seen = json.loads(looked.stdout)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    if seen["inode"] != held_inode:
        pytest.skip("the two tmpfs numbered their first files differently on this kernel")
    assert seen["holders"] == [], "a process of another namespace was taken for the holder"
