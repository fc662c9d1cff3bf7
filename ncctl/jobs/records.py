"""The done-records of the one-shot jobs, in ``state_dir/runner.sqlite``.

An instance's record is claimed before any side effect and marked ``done`` after it, so that
an instance runs exactly once whoever runs the pass (the daemon, cron, an operator) and
whatever crashed in between. A failed instance keeps its error and the earliest time of its
next try (exponential backoff); when its window closes unfulfilled an alert is recorded once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ncctl.statedb import open_state_db

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
