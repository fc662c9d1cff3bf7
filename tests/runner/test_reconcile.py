"""`ncctl maintenance run`: one pass converges from wrong states and runs each job once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ncctl_command, wait_for
from tests.logs.helpers import run, write_config

pytestmark = pytest.mark.slow

SLEEP = '["{python}", "-m", "ncctl.sim.idle"]'  # a simulator: a development setup


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    extra = (
        f"[components.feed_handler]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
        f"[components.order_session]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
    )
    path = write_config(tmp_path, extra=extra)
    (tmp_path / "live" / "audit.csv").write_text("rows\n")
    yield path
    for group in ("session", "feed"):
        run(path, group, "stop", "--force", "--reason", "test teardown")


def states(config: Path, clock: str) -> dict[str, str]:
    _, doc, _ = run(config, "status", clock=clock)
    return {c["name"]: c["actual"] for c in doc["data"]["components"]}


def maintenance(config: Path, clock: str, **kw: Any) -> dict[str, Any]:
    code, doc, err = run(config, "maintenance", "run", clock=clock, **kw)
    assert code == 0, (doc, err)
    data: dict[str, Any] = doc["data"]
    return data


def test_nothing_running_on_sunday_afternoon_converges_in_one_pass(config: Path) -> None:
    clock = "2026-11-22T15:40"
    assert states(config, clock) == {"feed_handler": "stopped", "order_session": "stopped"}
    data = maintenance(config, clock)
    started = [a["component"] for a in data["actions"]]
    assert started == ["feed_handler", "order_session"]  # the feed handler first
    assert states(config, clock) == {"feed_handler": "running", "order_session": "running"}
    code, doc, _ = run(config, "status", clock=clock)
    assert code == 0 and doc["data"]["drift"] is False
    assert maintenance(config, clock)["actions"] == []  # idempotent


def test_order_session_up_inside_the_maintenance_window_is_stopped(config: Path) -> None:
    run(config, "feed", "start", clock="2026-11-25T10:00")
    run(config, "session", "start", clock="2026-11-25T10:00")
    data = maintenance(config, "2026-11-25T16:10")
    assert [(a["component"], a["action"]) for a in data["actions"]] == [("order_session", "stop")]
    assert states(config, "2026-11-25T16:10") == {
        "feed_handler": "running",
        "order_session": "stopped",
    }
    data = maintenance(config, "2026-11-25T16:31")
    assert [(a["component"], a["action"]) for a in data["actions"]] == [("order_session", "start")]


def test_feed_handler_up_on_saturday_is_stopped(config: Path) -> None:
    run(config, "feed", "start", "--force", "--reason", "test", clock="2026-11-28T10:00")
    data = maintenance(config, "2026-11-28T10:00")
    assert [(a["component"], a["action"]) for a in data["actions"]] == [("feed_handler", "stop")]
    assert states(config, "2026-11-28T10:00")["feed_handler"] == "stopped"


def test_a_crashed_component_is_started_again(config: Path, tmp_path: Path) -> None:
    clock = "2026-11-25T10:00"
    maintenance(config, clock)
    pid = json.loads((tmp_path / "state" / "run" / "feed_handler.pid").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: states(config, clock)["feed_handler"] == "crashed", 10, "the feed handler crashed"
    )
    data = maintenance(config, clock)
    [action] = data["actions"]
    assert action["component"] == "feed_handler" and action["after_crash"]["exit_code"] == -9


def test_each_job_runs_once_and_a_restart_repeats_none(config: Path, tmp_path: Path) -> None:
    first = maintenance(config, "2026-11-25T16:02")
    mine = [
        (j["job"], j["instance"]) for j in first["jobs"] if j["instance"].startswith("2026-11-25")
    ]
    assert mine == [
        ("rotate", "2026-11-25T16:01:00-06:00"),
        ("upload", "2026-11-25T16:01:00-06:00"),
    ]
    assert all(j["state"] == "done" for j in first["jobs"])
    assert (tmp_path / "outbox" / "fcm" / "audit.20261125.csv.gz").is_file()
    # a pass later in the window, or after a restart of whoever runs the passes: no repeat
    again = maintenance(config, "2026-11-25T16:20")
    assert again["jobs"] == []
    journal = (tmp_path / "state" / "journal.jsonl").read_text().splitlines()
    rotations = [json.loads(line) for line in journal if '"job rotate"' in line]
    assert len([r for r in rotations if r["args"] == ["2026-11-25T16:01:00-06:00"]]) == 1


def test_a_missed_upload_is_done_at_the_next_pass(config: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox" / "fcm"
    outbox.parent.mkdir(parents=True)
    outbox.write_text("a file where the directory should be")  # the destination is broken
    data = maintenance(config, "2026-11-25T16:02")
    by_job = {j["job"]: j for j in data["jobs"] if j["instance"].startswith("2026-11-25")}
    assert by_job["rotate"]["state"] == "done"
    assert by_job["upload"]["state"] == "failed"
    outbox.unlink()  # repaired; the failed job waits for its backoff, then runs again
    db = tmp_path / "state" / "runner.sqlite"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
            "c.execute('UPDATE job_runs SET next_try_ns = 0'); c.commit()",
            str(db),
        ],
        check=True,
    )
    data = maintenance(config, "2026-11-25T16:40")  # after its window: caught up, and alerted?
    by_job = {j["job"]: j for j in data["jobs"] if j["instance"].startswith("2026-11-25")}
    assert by_job["upload"]["state"] == "done"
    assert (outbox / "audit.20261125.csv.gz").is_file()


def test_a_job_still_failing_when_its_window_closes_raises_one_alert(
    config: Path, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox" / "fcm"
    outbox.parent.mkdir(parents=True)
    outbox.write_text("broken destination")
    maintenance(config, "2026-11-25T16:02")
    data = maintenance(config, "2026-11-25T16:30")
    alerts = [a for a in data["alerts"] if a["job"] == "upload"]
    assert len(alerts) == 1 and alerts[0]["instance"] == "2026-11-25T16:01:00-06:00"
    assert maintenance(config, "2026-11-25T16:45")["alerts"] == []  # once
    journal = (tmp_path / "state" / "journal.jsonl").read_text()
    assert journal.count('"alert upload"') == 1


def test_two_passes_at_once_one_works_the_other_exits_cleanly(config: Path) -> None:
    argv = ncctl_command(
        "--config", config, "--clock", "2026-11-25T16:02", "maintenance", "run", "--json"
    )
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    docs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    skipped = sorted(d["data"]["skipped"] for d in docs)
    if skipped == [False, False]:
        # the first finished before the second started: the second then had nothing to do
        assert sum(len(d["data"]["jobs"]) for d in docs) == len(
            max((d["data"]["jobs"] for d in docs), key=len)
        )
    else:
        assert skipped == [False, True]
        busy = next(d for d in docs if d["data"]["skipped"])
        assert "runner lock is held by pid" in busy["data"]["reason"]
