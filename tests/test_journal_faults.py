"""The journal under faults: a full disk, a short write, crashes at every step and at random
instants, a partial line left behind, and a journal path that is not a plain file."""

from __future__ import annotations

import os
import random
import resource
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ncctl.journal import Journal, verify
from tests.helpers import holds_within
from tests.logs.helpers import NO_DAC_OVERRIDE, run, write_config
from tests.test_journal_support import (
    append_in_child,
    fill,
    journal_with,
    needs_root,
    snapshot,
    tmpfs,
)


def _config_set(config: Path, value: str) -> tuple[int, dict[str, Any], str]:
    return run(config, "config", "set", "logs.lock_timeout_s", value)


@pytest.mark.slow
@needs_root
def test_a_full_disk_fails_cleanly_and_the_journal_works_once_space_returns(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    with tmpfs(state, "1m"):
        assert _config_set(config, "0.6")[0] == 0
        assert _config_set(config, "0.7")[0] == 0
        journal = state / "journal.jsonl"
        before = journal.read_bytes()
        filler = fill(state)
        code, doc, _ = _config_set(config, "0.8")
        assert code == 75, doc
        error = doc["error"]
        assert error["code"] == "journal.no_space"
        assert "config set" in error["message"] and "free space" in error["hint"]
        assert journal.read_bytes() == before
        # a few KiB free: the anchor's pending head fits, the line does not
        cut_back = 0
        full_size = filler.stat().st_size
        for free in (8, 16, 32, 64, 128, 256):
            os.truncate(filler, full_size - free * 1024)
            child = append_in_child(journal, pad=600 * 1024)
            assert child.returncode == 75, child.stderr
            assert "journal.no_space" in child.stderr
            cut_back += "cut back to its previous" in child.stderr
            assert journal.read_bytes() == before
            assert verify(journal).ok
            os.truncate(filler, full_size)
        assert cut_back >= 1  # the line's own write failed half way at least once
        code, doc, _ = run(config, "audit", "verify")
        assert code == 0 and doc["data"]["lines"] == 2, doc
        filler.unlink()
        assert _config_set(config, "0.9")[0] == 0
        code, doc, _ = run(config, "audit", "log")
        assert code == 0 and len(doc["data"]["entries"]) == 3
        code, doc, _ = run(config, "audit", "verify")
        assert code == 0 and doc["data"]["lines"] == 3, doc


def test_a_short_write_is_cut_back(tmp_path: Path) -> None:
    """A file-size limit makes the kernel accept part of the line, then refuse the rest."""
    journal = journal_with(tmp_path, 3).path
    Journal(journal).append("pad", [], "ok", details={"pad": "x" * 200_000})
    before = journal.read_bytes()
    limit = len(before) + 100

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    child = append_in_child(journal, pad=10_000, preexec=limited)
    assert child.returncode == 73, child.stderr
    assert "journal.too_big" in child.stderr and "cut back" in child.stderr
    assert journal.read_bytes() == before
    assert verify(journal).ok
    Journal(journal).append("feed stop", [], "ok")
    result = verify(journal)
    assert result.ok and result.lines == 5


@pytest.mark.slow
def test_a_partial_line_left_by_a_crash_is_set_aside(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    journal = journal_with(tmp_path / "state", 3)
    torn = b'{"ts_ns":1,"user":"root","command":"feed st'
    with journal.path.open("ab") as fh:
        fh.write(torn)
    code, doc, _ = run(config, "audit", "verify")
    assert code == 0, doc
    assert any("incomplete last line" in w for w in doc["data"]["warnings"])
    code, doc, _ = run(config, "audit", "log")
    assert code == 0 and len(doc["data"]["entries"]) == 3
    record = journal.append("feed stop", [], "ok")
    [aside] = list((tmp_path / "state").glob("journal.jsonl.partial-*"))
    assert aside.read_bytes() == torn
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert record["recovered"]["set_aside"] == aside.name
    assert record["recovered"]["bytes"] == len(torn)
    assert torn not in journal.path.read_bytes()
    code, doc, _ = run(config, "audit", "verify")
    assert code == 0 and doc["data"]["lines"] == 4, doc
    assert any(aside.name in w for w in doc["data"]["warnings"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "lines"),
    [("journal.after_pending", 2), ("journal.mid_write", 3), ("journal.after_write", 3)],
)
def test_a_crash_between_line_and_anchor_is_not_tampering(
    tmp_path: Path, point: str, lines: int
) -> None:
    config = write_config(tmp_path)
    journal = journal_with(tmp_path / "state", 2)
    child = append_in_child(journal.path, pad=10, env={"NCCTL_CRASH_AT": point})
    assert child.returncode == -signal.SIGKILL
    code, doc, _ = run(config, "audit", "verify")
    assert code == 0, doc
    assert doc["data"]["lines"] == lines
    journal.append("feed stop", [], "ok")
    code, doc, _ = run(config, "audit", "verify")
    assert code == 0 and doc["data"]["lines"] == lines + 1, doc


KILL_ROUNDS = 12
WRITER = """
import sys
from pathlib import Path
from ncctl.journal import Journal
journal = Journal(Path(sys.argv[1]))
for i in range(400):
    journal.append("feed start", [f"i={i}"], "ok", details={"pad": "y" * (i * 37 % 5000)})
"""


@pytest.mark.slow
def test_sigkill_at_random_instants_is_never_tampering(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    rng = random.Random(20261204)
    verified = 0
    for _ in range(KILL_ROUNDS):
        start = path.stat().st_size if path.exists() else 0
        target = start + rng.randrange(1, 200_000)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])

        def grown(t: int = target) -> bool:
            return path.exists() and path.stat().st_size >= t

        try:
            holds_within(grown, 30)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        result = verify(path)
        assert result.ok, (result.anchor, result.problem)
        verified += 1
    Journal(path).append("feed stop", [], "ok")
    final = verify(path)
    assert final.ok and verified == KILL_ROUNDS
    assert final.lines == len(path.read_bytes().splitlines())


def _make_dir(path: Path) -> None:
    path.mkdir()


def _make_fifo(path: Path) -> None:
    os.mkfifo(path, 0o600)


def _make_device(path: Path) -> None:
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null


def _make_symlink(path: Path) -> None:
    target = path.parent.parent / "elsewhere.jsonl"
    Journal(target).append("feed start", [], "ok")
    path.symlink_to(target)


@pytest.mark.slow
@needs_root
@pytest.mark.parametrize("make", [_make_dir, _make_fifo, _make_device, _make_symlink])
@pytest.mark.parametrize("command", [("audit", "log"), ("audit", "verify"), ("config", "set")])
def test_a_journal_that_is_not_a_file_is_refused(
    tmp_path: Path, make: Callable[[Path], None], command: tuple[str, ...]
) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    make(state / "journal.jsonl")
    before = snapshot(tmp_path)
    args = (*command, "logs.lock_timeout_s", "0.6") if command[0] == "config" else command
    started = time.monotonic()
    code, doc, _ = run(config, *args)
    assert time.monotonic() - started < 30
    assert code == 65, doc
    assert doc["error"]["code"] == "journal.not_a_file"
    assert str(state / "journal.jsonl") in doc["error"]["message"]
    if command[0] == "audit":
        assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_an_unreadable_journal_is_permission_denied(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    journal = journal_with(tmp_path / "state", 2)
    journal.path.chmod(0o000)
    for command in (("audit", "log"), ("audit", "verify")):
        code, doc, _ = run(config, *command, wrapper=NO_DAC_OVERRIDE)
        assert code == 77, doc
        assert str(journal.path) in doc["error"]["message"]


@pytest.mark.slow
def test_a_journal_missing_where_the_anchor_has_lines(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    journal = journal_with(tmp_path / "state", 2)
    journal.path.unlink()
    before = snapshot(tmp_path)
    code, doc, _ = run(config, "audit", "log")
    assert code == 65 and doc["error"]["code"] == "journal.missing", doc
    code, doc, _ = _config_set(config, "0.6")
    assert code == 65 and doc["error"]["code"] == "journal.missing", doc
    assert not journal.path.exists()
    code, doc, _ = run(config, "audit", "verify")
    assert code == 1 and doc["data"]["anchor"] == "state DB"
    assert "missing" in doc["data"]["problem"]
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "ncctl.toml"} == {
        k: v for k, v in before.items() if k != "ncctl.toml"
    }


@pytest.mark.slow
def test_reading_commands_on_an_empty_state_dir_create_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    before = snapshot(tmp_path)
    for command in (("audit", "log"), ("audit", "verify")):
        code, doc, _ = run(config, *command)
        assert code == 0, doc
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "state").exists()
