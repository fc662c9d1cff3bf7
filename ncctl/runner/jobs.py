"""One-shot jobs of the schedule and their done-records.

A job instance is a job name and the scheduled instant of the event that calls it (for
example ``rotate`` at ``2026-11-25T16:01:00-06:00``). Its record in ``state_dir/runner.sqlite``
is claimed before any side effect and marked ``done`` after it, so that an instance runs exactly
once whoever runs the pass (the daemon, cron, an operator) and whatever crashed in between. A
failed instance keeps its error and the earliest time of its next try (exponential backoff);
when its window closes unfulfilled an alert is recorded once.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.statedb import open_state_db

if TYPE_CHECKING:
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.journal import Journal
    from ncctl.schedule import ScheduleEngine

SCHEMA = """
CREATE TABLE IF NOT EXISTS job_runs (
    job TEXT NOT NULL,
    instance TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_try_ns INTEGER NOT NULL DEFAULT 0,
    started_ns INTEGER,
    finished_ns INTEGER,
    lateness_s REAL,
    alerted INTEGER NOT NULL DEFAULT 0,
    updated_ns INTEGER NOT NULL,
    PRIMARY KEY (job, instance)
);
"""


@dataclass(frozen=True)
class Job:
    """A one-shot job: the events that call it, how long before them it runs (``lead``),
    and how long its window stays open."""

    name: str
    events: tuple[str, ...]
    window: dt.timedelta
    lead: dt.timedelta = dt.timedelta(0)


PREFLIGHT_LEAD = dt.timedelta(hours=1)
"""How long before the feed handler starts (Sunday 15:00 CT) preflight runs."""

JOBS: tuple[Job, ...] = (
    # preflight at 14:00, an hour before the week starts; its window closes at the feed start
    Job("preflight", ("feed_handler.on",), PREFLIGHT_LEAD, lead=PREFLIGHT_LEAD),
    # registration at 15:25 must be done before order entry comes up at 15:29
    Job("party_registration", ("party_registration",), dt.timedelta(minutes=4)),
    # rotation and upload at 16:01 must be done before the window ends at 16:29
    Job("rotate", ("rotation.daily", "rotation.weekly"), dt.timedelta(minutes=28)),
    Job("upload", ("rotation.daily", "rotation.weekly"), dt.timedelta(minutes=28)),
)


@dataclass(frozen=True)
class JobRun:
    job: str
    instance: str
    state: str
    attempts: int
    last_error: str | None
    next_try_ns: int
    lateness_s: float | None
    alerted: bool


class JobStore:
    """The done-records of one state directory."""

    def __init__(
        self, path: Path, *, read_only: bool = False, expect_records: bool = False
    ) -> None:
        """``expect_records``: a missing database is an error while the journal beside it
        records job runs (``maintenance run --rebuild`` makes a new one deliberately)."""
        self.path = path
        rebuild = (
            "`ncctl maintenance run --rebuild` makes a new one (the jobs of the last seven "
            "days that are due run again: rotation and upload are idempotent)"
        )
        self.db = open_state_db(
            path,
            SCHEMA,
            what="the job-records database",
            rebuild_hint=f"move it aside (mv {path} {path}.damaged), then {rebuild}",
            read_only=read_only,
            expected=(lambda: journal_records_jobs(path.parent)) if expect_records else None,
            missing_hint=f"restore it from a backup, or {rebuild}",
        )

    def close(self) -> None:
        self.db.close()

    def get(self, job: str, instance: str) -> JobRun | None:
        row = self.db.execute(
            "SELECT job, instance, state, attempts, last_error, next_try_ns, lateness_s, alerted "
            "FROM job_runs WHERE job = ? AND instance = ?",
            (job, instance),
        ).fetchone()
        if row is None:
            return None
        return JobRun(
            str(row[0]),
            str(row[1]),
            str(row[2]),
            int(row[3]),
            row[4],
            int(row[5]),
            row[6],
            bool(row[7]),
        )

    def claim(self, job: str, instance: str, lateness_s: float) -> bool:
        """Mark an instance running before its side effects; False if it is already done."""
        now = time.time_ns()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            current = self.get(job, instance)
            if current is not None and current.state == "done":
                self.db.execute("ROLLBACK")
                return False
            if current is None:
                self.db.execute(
                    "INSERT INTO job_runs (job, instance, state, attempts, started_ns, "
                    "lateness_s, updated_ns) VALUES (?, ?, 'running', 1, ?, ?, ?)",
                    (job, instance, now, lateness_s, now),
                )
            else:
                self.db.execute(
                    "UPDATE job_runs SET state = 'running', attempts = attempts + 1, "
                    "started_ns = ?, updated_ns = ? WHERE job = ? AND instance = ?",
                    (now, now, job, instance),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return True

    def done(self, job: str, instance: str, note: str | None = None) -> None:
        """Mark an instance done (``note``: why, when it was not run itself)."""
        now = time.time_ns()
        self.db.execute(
            "UPDATE job_runs SET state = 'done', last_error = ?, finished_ns = ?, "
            "updated_ns = ? WHERE job = ? AND instance = ?",
            (note, now, now, job, instance),
        )

    def failed(self, job: str, instance: str, error: str, retry_in_s: float) -> None:
        now = time.time_ns()
        self.db.execute(
            "UPDATE job_runs SET state = 'failed', last_error = ?, next_try_ns = ?, "
            "updated_ns = ? WHERE job = ? AND instance = ?",
            (error, now + int(retry_in_s * 1e9), now, job, instance),
        )

    def mark_alerted(self, job: str, instance: str) -> None:
        self.db.execute(
            "UPDATE job_runs SET alerted = 1, updated_ns = ? WHERE job = ? AND instance = ?",
            (time.time_ns(), job, instance),
        )

    def runs(self) -> list[JobRun]:
        rows = self.db.execute(
            "SELECT job, instance FROM job_runs ORDER BY instance, job"
        ).fetchall()
        out = [self.get(str(j), str(i)) for j, i in rows]
        return [r for r in out if r is not None]


def job_instants(
    engine: ScheduleEngine, now: dt.datetime, lookback: dt.timedelta, jobs: tuple[Job, ...] = JOBS
) -> dict[str, list[dt.datetime]]:
    """Each job's scheduled instants (its event's instant less its lead) from ``now -
    lookback`` up to and including ``now``, oldest first."""
    ahead = max((job.lead for job in jobs), default=dt.timedelta(0))
    found: dict[str, list[dt.datetime]] = {}
    for tr in engine.transitions(now - lookback, now + ahead + dt.timedelta(microseconds=1)):
        for job in jobs:
            at = tr.at - job.lead
            if tr.event in job.events and now - lookback <= at <= now:
                found.setdefault(job.name, []).append(at)
    return found


def job_store_path(state_dir: Path) -> Path:
    return state_dir / "runner.sqlite"


JOURNAL_JOB_MARK = b'"command":"job '
"""How a journal line of a job run reads (the journal is canonical JSON)."""


def journal_records_jobs(state_dir: Path) -> str | None:
    """Why job records must exist: the journal of ``state_dir`` records job runs (None when
    it records none, or cannot be read: then nothing can be told)."""
    import os
    import stat

    from ncctl.journal import journal_path

    path = journal_path(state_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    runs, last = 0, 0
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        for number, line in enumerate(fh, start=1):
            if JOURNAL_JOB_MARK in line:
                runs, last = runs + 1, number
    if not runs:
        return None
    return f"the journal {path} records {runs} job run(s) (the last on line {last})"


def rotate_job(
    config: NcctlConfig,
    engine: ScheduleEngine,
    now: dt.datetime,
    config_path: Path | None,
    journal: Journal,
) -> dict[str, Any]:
    """The ``rotate`` job: ``logs rotate`` for every category, resuming what is left.

    It never rotates into the past: when the clock is behind the newest archive the instance
    is skipped (done, nothing rotated, so nothing new to upload) with an alert: a journal
    line, ``alert`` in the result, and the instance counted in ``ncctl_job_alerts``. A file
    a writer still holds is journaled (outcome ``held``) and fails the instance with exit 75,
    so that the next pass tries again."""
    from ncctl.components.lifecycle import backend_for
    from ncctl.errors import RefusedError
    from ncctl.logs.journal_export import export_journal
    from ncctl.logs.manifest import locked_manifest
    from ncctl.logs.rotation import Rotator
    from ncctl.logs.rotation_result import PAST_CODE, journal_rotation

    def reopen(owner: str) -> bool:
        return backend_for(owner, config.components, config.state_dir, config_path).reopen()

    with locked_manifest(config.logs, config.state_dir, "maintenance run: rotate") as manifest:
        rotator = Rotator(config.logs, engine, manifest, now, reopen)
        try:
            run = rotator.run()
        except RefusedError as err:
            if err.code != PAST_CODE:
                raise
            alert = {"job": "rotate", **err.as_dict()}
            journal.append("alert rotate", [], "alert", details=alert)
            return {"skipped": err.message, "alert": alert}
        run.results += export_journal(config.logs, config.state_dir, manifest, run.results)
    held = run.held_error()
    if held is not None:
        journal_rotation(journal, "job rotate", [], run=run)
        raise held
    return {
        "resumed": len(run.resumed),
        "categories": {r.category: r.action for r in run.results},
    }
