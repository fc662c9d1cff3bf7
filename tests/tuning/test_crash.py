"""A crash between two writes of an apply: the rollback journal still undoes everything.

A real child process runs ``ncctl tune host`` and SIGKILLs itself at a named point
(``NCCTL_CRASH_AT``), with no chance to clean up; the rollback that follows in another
process must restore every value and file the dead process touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tuning import fakeroot
from tests.tuning.conftest import SATURDAY, Tune, envelope

REPO = Path(__file__).resolve().parents[2]


def crashed_apply(config: Path, crash_at: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NCCTL_CRASH_AT": crash_at, "NCCTL_CACHE_DIR": "off"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.tuning.cli_child",
            "--config",
            str(config),
            "--clock",
            SATURDAY,
            "tune",
            "host",
            "--json",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("crash_at", "written", "recorded"),
    [
        # the second write done, the third not begun
        ("after-write:sysctl:net.core.wmem_max", 2, 2),
        # the third original recorded and fsynced, its write never happened
        ("before-write:sysctl:net.ipv4.tcp_rmem", 2, 3),
        # every live value written and the sysctl.d file replaced; tmpfiles.d not yet
        ("after-write:file:/etc/sysctl.d/99-ncctl.conf", 18, 19),
    ],
)
def test_rollback_after_sigkill_restores_everything_touched(
    tune: Tune,
    config: Path,
    fake_root: Path,
    state_dir: Path,
    crash_at: str,
    written: int,
    recorded: int,
) -> None:
    start = fakeroot.tree(fake_root)
    proc = crashed_apply(config, crash_at)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""  # killed before it could print anything
    assert fakeroot.tree(fake_root) != start
    lines = (state_dir / "tuning" / "rollback.jsonl").read_text().splitlines()
    originals = [json.loads(line) for line in lines if '"op": "original"' in line]
    assert len(originals) == recorded
    changed = [
        o["id"]
        for o in originals
        if o["kind"] == "value"
        and (fake_root / o["path"].lstrip("/")).read_text().split() != o["original"].split()
    ]
    assert len(changed) == written
    assert not (state_dir / "journal.jsonl").exists()  # the dead apply never journaled

    result = tune("rollback")
    doc = envelope(result, "tune rollback")
    assert result.code == 0, doc
    restored = {r["id"] for r in doc["data"]["restored"]}
    unchanged = {r["id"] for r in doc["data"]["unchanged"]}
    assert len(restored) == written + (1 if crash_at.startswith("after-write:file") else 0)
    assert len(restored) + len(unchanged) == recorded
    assert fakeroot.tree(fake_root) == start
    assert tune("verify").code == 1  # back to the untuned host
