"""Stale temporary files: what a writer killed between creating its temporary and renaming it
leaves behind is removed by the next write into that directory (ncctl/temp_files.py,
docs/design.md §3.3): killed writers at random instants, then the rules one by one."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl import floor, temp_files
from ncctl.statedb import SQLITE_HEADER, open_state_db

RUNS = 30
SEED = 20261205
SIZE = 256 * 1024
SCHEMA = "CREATE TABLE IF NOT EXISTS t (a INTEGER);"
CHILD_TIMEOUT_S = 30.0

WRITER = """
import sys, time
from pathlib import Path
from ncctl import floor
target, size = Path(sys.argv[1]), int(sys.argv[2])
print("go", flush=True)
deadline = time.monotonic() + 30
for i in range(1, 100_000):
    if time.monotonic() > deadline:
        break
    floor.atomic_write(target, bytes([i % 251]) * size, what="test file")
"""

BUILDER = """
import sys, time
from pathlib import Path
from ncctl.statedb import open_state_db
directory = Path(sys.argv[1])
print("go", flush=True)
deadline = time.monotonic() + 30
for i in range(1, 100_000):
    if time.monotonic() > deadline:
        break
    db = open_state_db(directory / f"db{i}.sqlite", sys.argv[2], what="db", rebuild_hint="-")
    db.close()
"""


def temps(directory: Path) -> list[str]:
    """Every name in ``directory`` of ncctl's temporary naming (with SQLite's companions)."""
    return sorted(n for n in os.listdir(directory) if ".tmp" in n)


def kill_at_random(code: str, args: list[str], rng: random.Random) -> None:
    """Start ``python -c code args``, wait (bounded) until it says it writes, let it write for
    a random instant (the instant is what is being tested, not a synchronisation), SIGKILL
    it and reap it."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], CHILD_TIMEOUT_S)
        assert ready and child.stdout.readline() == b"go\n", child.stderr
        time.sleep(rng.uniform(0.0, 0.04))
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=CHILD_TIMEOUT_S)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL, child.returncode


def test_a_writer_killed_at_random_instants_leaves_old_or_new_and_no_temporary(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    left = 0
    for run in range(RUNS):
        directory = tmp_path / f"run{run}"
        directory.mkdir(mode=0o750)
        target = directory / "state.json"
        target.write_bytes(
            bytes([0]) * SIZE
        )  # (not through the floor: its sweep is the next write)
        kill_at_random(WRITER, [str(target), str(SIZE)], rng)
        data = target.read_bytes()
        assert len(data) == SIZE and data == bytes([data[0]]) * SIZE, f"run {run}: torn"
        left += bool(temps(directory))
        floor.atomic_write(directory / "other.json", b"{}", what="test file")
        assert temps(directory) == [], f"run {run}"
        assert target.read_bytes() == data
    assert left >= RUNS // 6, f"only {left} of {RUNS} kills left a temporary: not tested"


def test_a_database_build_killed_at_random_instants_leaves_no_temporary(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    left = 0
    for run in range(RUNS):
        directory = tmp_path / f"run{run}"
        directory.mkdir(mode=0o750)
        kill_at_random(BUILDER, [str(directory), SCHEMA], rng)
        left += bool(temps(directory))
        open_state_db(directory / "next.sqlite", SCHEMA, what="test db", rebuild_hint="-").close()
        assert temps(directory) == [], f"run {run}"
        for db in directory.glob("*.sqlite"):  # linked into place only once complete
            assert db.read_bytes()[: len(SQLITE_HEADER)] == SQLITE_HEADER, db
    assert left >= RUNS // 6, f"only {left} of {RUNS} kills left a temporary: not tested"


def dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=CHILD_TIMEOUT_S)
    return child.pid


def make(path: Path, *, age_s: float = 0.0) -> Path:
    path.write_bytes(b"partial")
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def test_only_stale_temporaries_of_ncctls_naming_owned_by_us_are_removed(tmp_path: Path) -> None:
    gone = dead_pid()
    live = os.getpid()
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
    ) as other:
        assert other.stdin is not None
        removed = {
            make(tmp_path / f".a.json.{gone}.0123456789ab.tmp"),
            make(tmp_path / f".j.sqlite.{gone}.0123456789ab.tmp-journal"),
            make(tmp_path / f".j.sqlite.{gone}.0123456789ab.tmp-wal"),
            make(
                tmp_path / f".b.json.{other.pid}.0123456789ab.tmp",
                age_s=temp_files.STALE_TEMP_S + 60,
            ),
        }
        kept = {
            make(tmp_path / f".c.json.{live}.0123456789ab.tmp"),  # this process is writing it
            make(tmp_path / f".d.json.{other.pid}.0123456789ab.tmp", age_s=3600),  # alive
            make(tmp_path / f"e.json.{gone}.0123456789ab.tmp"),  # not ncctl's naming
            make(tmp_path / f".f.json.{gone}.0123456789AB.tmp"),
            make(tmp_path / f".g.json.{gone}.0123456789ab.tmp.bak"),
            make(tmp_path / f".h.json.{gone}.tmp"),
            make(tmp_path / "state.json"),
        }
        target = make(tmp_path / "outside")
        link = tmp_path / f".i.json.{gone}.0123456789ab.tmp"
        link.symlink_to(target)
        (tmp_path / f".k.json.{gone}.0123456789ab.tmp").mkdir()
        kept |= {link, tmp_path / f".k.json.{gone}.0123456789ab.tmp"}

        assert set(temp_files.stale_temps(tmp_path)) == removed
        assert set(temp_files.sweep_temps(tmp_path)) == removed
        other.stdin.close()
    assert set(tmp_path.iterdir()) == kept | {target}
    assert target.read_bytes() == b"partial"


@pytest.mark.skipif(os.geteuid() != 0, reason="another user's file needs root to make")
def test_a_temporary_of_another_user_is_left_alone(tmp_path: Path) -> None:
    theirs = make(tmp_path / f".a.json.{dead_pid()}.0123456789ab.tmp")
    os.chown(theirs, 65534, 65534)
    assert temp_files.stale_temps(tmp_path) == []
    floor.atomic_write(tmp_path / "a.json", b"{}", what="test file")
    assert theirs.exists()


def test_a_directory_is_swept_at_most_once_a_minute_per_process(tmp_path: Path) -> None:
    floor.atomic_write(tmp_path / "a.json", b"1", what="test file")  # the first sweep
    stale = make(tmp_path / f".a.json.{dead_pid()}.0123456789ab.tmp")
    floor.atomic_write(tmp_path / "a.json", b"2", what="test file")
    assert stale.exists()  # swept less than a minute ago: left for the next sweep
    assert temp_files.stale_temps(tmp_path) == [stale]


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="/\x00"),
        min_size=1,
        max_size=60,
    ).filter(lambda s: s not in (".", ".."))
)
def test_every_temporary_name_is_recognised_with_its_writers_pid(name: str) -> None:
    tmp = floor.temp_name(Path("/state") / name)
    for suffix in ("", "-journal", "-wal", "-shm"):
        assert temp_files.temp_writer(tmp.name + suffix) == os.getpid(), tmp.name
    assert temp_files.temp_writer(tmp.name + ".bak") is None
    without_dot = temp_files.temp_writer(tmp.name[1:])  # not ncctl's naming, unless NAME has one
    assert without_dot == (os.getpid() if name.startswith(".") else None)
