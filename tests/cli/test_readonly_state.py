"""Read-only commands change nothing in the state directory: not even SQLite's ``-wal`` and
``-shm`` companions, which ``mode=ro`` makes beside a WAL database that no connection has
open and leaves behind (ncctl/statedb.py). Real databases, real ncctl processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ncctl.jobs.records import JobStore, job_store_path
from ncctl.journal.writer import Journal
from ncctl.logs.manifest import Manifest, manifest_path
from ncctl.statedb import open_state_db
from tests.helpers import run_process

from .conftest import snapshot

AT = "2026-03-04T10:00"
SCHEMA = "CREATE TABLE IF NOT EXISTS t (a INTEGER);"


def service_state(state: Path) -> None:
    """The databases as the service leaves them: written, then closed (no -wal, no -shm)."""
    state.mkdir(mode=0o700, parents=True)
    JobStore(job_store_path(state)).close()
    Manifest(manifest_path(state)).close()
    Journal(state / "journal.jsonl").append("test", [], "ok")


def test_status_and_metrics_leave_every_file_of_the_state_directory_as_it_was(
    private_state_home: Path, isolated_cwd: Path
) -> None:
    service_state(private_state_home)
    before = snapshot(private_state_home)
    assert sorted(before) == ["journal.jsonl", "journal.sqlite", "manifest.sqlite", "runner.sqlite"]
    status = run_process("--clock", AT, "status", "--json", cwd=isolated_cwd)
    assert status.code in (0, 1), status.err  # 1: the components are down in trading hours
    assert status.doc()["command"] == "status"
    metrics = run_process("--clock", AT, "metrics", cwd=isolated_cwd)
    assert metrics.code == 0, metrics.err
    assert "ncctl_journal_lines 1" in metrics.out
    assert snapshot(private_state_home) == before


WRITER = """
import sys
from pathlib import Path
from ncctl.statedb import open_state_db
db = open_state_db(Path(sys.argv[1]), sys.argv[2], what="test db", rebuild_hint="-")
db.execute("INSERT INTO t VALUES (2)")
db.close()
"""


def test_a_reader_sees_one_state_while_another_process_writes_and_closes(tmp_path: Path) -> None:
    """Read ``immutable=1``, the file must not change under the reader: its lock keeps the
    writer's closing checkpoint out of the file (the writer leaves its WAL instead)."""
    directory = tmp_path / "db"
    directory.mkdir()
    path = directory / "x.sqlite"
    db = open_state_db(path, SCHEMA, what="test db", rebuild_hint="-")
    db.execute("INSERT INTO t VALUES (1)")
    db.close()
    reader = open_state_db(path, SCHEMA, what="test db", rebuild_hint="-", read_only=True)
    try:
        assert sorted(p.name for p in directory.iterdir()) == ["x.sqlite"]
        subprocess.run([sys.executable, "-c", WRITER, str(path), SCHEMA], check=True, timeout=60)
        assert reader.execute("SELECT a FROM t").fetchall() == [(1,)]
        assert sorted(p.name for p in directory.iterdir()) == [
            "x.sqlite",
            "x.sqlite-shm",
            "x.sqlite-wal",
        ]
    finally:
        reader.close()
    again = open_state_db(path, SCHEMA, what="test db", rebuild_hint="-", read_only=True)
    try:
        assert again.execute("SELECT a FROM t ORDER BY a").fetchall() == [(1,), (2,)]
    finally:
        again.close()
