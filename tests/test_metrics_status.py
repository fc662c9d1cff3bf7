"""The status functions the metrics read (the jobs' done-records, the journal's head, the
components' state): read-only, and a state directory they read stays as it was."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from ncctl.appconfig.load import load_file
from ncctl.components.backend import COMPONENTS
from ncctl.components.status import component_status
from ncctl.jobs.definitions import JOBS
from ncctl.jobs.records import JobStore, job_store_path
from ncctl.jobs.status import job_status, latest_instants
from ncctl.journal import Journal, journal_path
from ncctl.journal.status import journal_head
from ncctl.schedule import ScheduleEngine, load_engine
from tests.logs.helpers import write_config

CHICAGO = ZoneInfo("America/Chicago")
NOW = dt.datetime(2026, 11, 25, 17, 0, tzinfo=CHICAGO)  # after the 16:01 jobs' window closed


def _tree(root: Path) -> list[tuple[str, int]]:
    """Every file and its size, but SQLite's companions of an existing database (a reader of
    a WAL database makes its -shm and -wal when they are missing; they hold no records)."""
    return sorted(
        (p.relative_to(root).as_posix(), p.stat().st_size)
        for p in root.rglob("*")
        if not p.name.endswith(("-wal", "-shm"))
    )


def test_journal_head_without_an_anchor_is_empty_and_makes_none(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    before = _tree(tmp_path)
    got = journal_head(state_dir)
    assert (got.head, got.anomalies) == (None, 0)
    assert _tree(tmp_path) == before


def test_journal_head_follows_every_append(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    journal = Journal(journal_path(state_dir))
    for n in range(1, 4):
        journal.append("test", [str(n)], "ok")
        before = _tree(tmp_path)
        got = journal_head(state_dir)
        assert got.head is not None and got.anomalies == 0
        assert got.head.lines == n
        assert got.head.size == journal_path(state_dir).stat().st_size
        assert _tree(tmp_path) == before


def test_component_status_of_components_never_started(tmp_path: Path) -> None:
    config, _ = load_file(write_config(tmp_path))
    before = _tree(tmp_path)
    for name in COMPONENTS:
        section = getattr(config.components, name)
        status = component_status(name, section, config.state_dir)
        assert (status.name, status.running) == (name, False)
    assert _tree(tmp_path) == before


def _setup(tmp_path: Path) -> tuple[Path, ScheduleEngine]:
    config, _ = load_file(write_config(tmp_path))
    sched = config.schedule
    return config.state_dir, load_engine(sched.template_path(), sched.holiday_paths())


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
