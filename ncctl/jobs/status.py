"""Read-only status of the one-shot jobs, from their done-records (nothing is created)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ncctl.jobs.definitions import JOBS, LOOKBACK, job_instants
from ncctl.jobs.records import JobRun, JobStore, job_store_path

if TYPE_CHECKING:
    from ncctl.schedule import ScheduleEngine


@dataclass(frozen=True)
class JobStatus:
    """One job: its alerted instances, its newest recorded instance, and whether the
    instance a pass works on now is overdue (its window closed and it is not done)."""

    job: str
    alerts: int
    latest_state: str | None
    """The state of the newest recorded instance; None before the first."""
    lateness_s: float | None
    """How late the newest recorded instance started (None when not recorded)."""
    overdue: bool

    @property
    def failing(self) -> bool:
        return self.latest_state == "failed"


def latest_instants(engine: ScheduleEngine, now: dt.datetime) -> dict[str, dt.datetime]:
    """Each one-shot job's latest scheduled instance at or before ``now``, within the
    reconciler's look-back horizon (the instance a pass at ``now`` works on)."""
    return {name: at[-1] for name, at in job_instants(engine, now, LOOKBACK).items()}


def _recorded_runs(state_dir: Path) -> list[JobRun]:
    store = JobStore(job_store_path(state_dir), read_only=True)  # missing: no runs
    try:
        return store.runs()
    finally:
        store.close()


def job_status(state_dir: Path, engine: ScheduleEngine, now: dt.datetime) -> list[JobStatus]:
    """Every job of :data:`JOBS`, in their order, from ``state_dir/runner.sqlite`` opened
    read-only (a missing database is no runs, and stays missing)."""
    runs = _recorded_runs(state_dir)
    latest = latest_instants(engine, now)
    out: list[JobStatus] = []
    for job in JOBS:
        mine = [r for r in runs if r.job == job.name]
        newest = max(mine, key=lambda r: dt.datetime.fromisoformat(r.instance), default=None)
        instant = latest.get(job.name)
        overdue = False
        if instant is not None and now >= instant + job.window:
            record = next((r for r in mine if r.instance == instant.isoformat()), None)
            overdue = record is None or record.state != "done"
        out.append(
            JobStatus(
                job=job.name,
                alerts=sum(1 for r in mine if r.alerted),
                latest_state=newest.state if newest is not None else None,
                lateness_s=newest.lateness_s if newest is not None else None,
                overdue=overdue,
            )
        )
    return out
