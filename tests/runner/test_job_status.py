"""The jobs' read-only status: what the metrics report, from real done-records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from ncctl.config import load_file
from ncctl.jobs.definitions import JOBS
from ncctl.jobs.records import JobStore, job_store_path
from ncctl.jobs.status import job_status, latest_instants
from ncctl.schedule import ScheduleEngine, load_engine
from tests.logs.helpers import write_config

CHICAGO = ZoneInfo("America/Chicago")
NOW = dt.datetime(2026, 11, 25, 17, 0, tzinfo=CHICAGO)  # after the 16:01 jobs' window closed


def _setup(tmp_path: Path) -> tuple[Path, ScheduleEngine]:
    config, _ = load_file(write_config(tmp_path))
    sched = config.schedule
    return config.state_dir, load_engine(sched.template_path(), sched.holiday_paths())


def _tree(root: Path) -> list[tuple[str, int]]:
    """Every file and its size, but SQLite's companions of an existing database (a reader of
    a WAL database makes its -shm and -wal when they are missing; they hold no records)."""
    return sorted(
        (p.relative_to(root).as_posix(), p.stat().st_size)
        for p in root.rglob("*")
        if not p.name.endswith(("-wal", "-shm"))
    )


def test_without_records_every_closed_window_is_overdue_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    state_dir, engine = _setup(tmp_path)
    before = _tree(tmp_path)
    statuses = job_status(state_dir, engine, NOW)
    assert [s.job for s in statuses] == [job.name for job in JOBS]
    by_name = {s.job: s for s in statuses}
    assert by_name["rotate"].overdue and by_name["upload"].overdue
    assert all(s.alerts == 0 and s.latest_state is None and not s.failing for s in statuses)
    assert all(s.lateness_s is None for s in statuses)
    assert _tree(tmp_path) == before
    assert not job_store_path(state_dir).exists()


def test_records_decide_failing_overdue_lateness_and_alerts(tmp_path: Path) -> None:
    state_dir, engine = _setup(tmp_path)
    instant = latest_instants(engine, NOW)["rotate"].isoformat()
    store = JobStore(job_store_path(state_dir))
    try:
        assert store.claim("rotate", instant, 12.5)
        store.done("rotate", instant)
        assert store.claim("upload", instant, 3.0)
        store.failed("upload", instant, "unreachable", retry_in_s=60.0)
        store.mark_alerted("upload", instant)
    finally:
        store.close()
    before = _tree(tmp_path)
    by_name = {s.job: s for s in job_status(state_dir, engine, NOW)}
    assert _tree(tmp_path) == before
    rotate, upload = by_name["rotate"], by_name["upload"]
    assert (rotate.overdue, rotate.failing, rotate.lateness_s, rotate.alerts) == (
        False,
        False,
        12.5,
        0,
    )
    assert (upload.overdue, upload.failing, upload.lateness_s, upload.alerts) == (
        True,
        True,
        3.0,
        1,
    )
