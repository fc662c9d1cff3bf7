"""One reconcile pass: make reality match the schedule at ``now``, then run what is due.

1. Components: the desired state of the feed handler and the order session comes from the
   schedule; a component that should run and does not is started (feed handler first), one
   that should not run and does is stopped (order session first). A crashed component that
   should run is started again. Every action goes through the lifecycle and its journal.
2. One-shot jobs: every instance due since a look-back horizon (catch-up after downtime) whose
   done-record is missing runs once: party registration, rotation, upload. A failure is kept
   with a backoff; when a job's window closes unfulfilled, an alert is journaled once.

A pass is idempotent: running it twice in a row does nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.appconfig.model import NcctlConfig
from ncctl.components.backend import COMPONENTS
from ncctl.components.lifecycle import Lifecycle, desired_running
from ncctl.errors import NcctlError
from ncctl.jobs.definitions import JOBS, LOOKBACK, Job, job_instants
from ncctl.jobs.records import JobStore, job_store_path
from ncctl.journal import Journal, journal_path
from ncctl.runner.job_actions import ACTIONS, JobAction
from ncctl.schedule import ScheduleEngine

RETRY_BASE_S = 10.0
RETRY_MAX_S = 300.0


@dataclass
class PassReport:
    at: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "actions": self.actions,
            "jobs": self.jobs,
            "alerts": self.alerts,
            "errors": self.errors,
        }

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Reconciler:
    config: NcctlConfig
    engine: ScheduleEngine
    now: dt.datetime
    config_path: Path | None = None
    registration_hook: JobAction | None = None
    preflight_hook: JobAction | None = None
    """The Sunday preflight (:func:`ncctl.runner.job_actions.preflight_hook`); without it the
    instance is marked done with a note (tests and the demo run no preflight)."""
    jobs: tuple[Job, ...] = JOBS
    jitter: Callable[[], float] = random.random
    component_env: dict[str, str] = field(default_factory=dict)
    session_gate: Callable[[dt.date], tuple[bool, str]] | None = None
    rebuild: bool = False
    """Make new job records when ``runner.sqlite`` is missing though the journal records job
    runs (by default that is an error, not a fresh start)."""

    def __post_init__(self) -> None:
        from ncctl.appconfig.component_env import component_environments

        self.journal = Journal(journal_path(self.config.state_dir))
        self.lifecycle = Lifecycle(
            self.config.components,
            self.config.state_dir,
            self.engine,
            self.now,
            self.journal,
            environments=component_environments(self.config),
            component_env=self.component_env,
        )

    # -- components -----------------------------------------------------------------------

    def converge(self, report: PassReport) -> None:
        state = self.engine.state_at(self.now)
        wanted = {name: desired_running(name, state) for name in COMPONENTS}
        # stop the order session before the feed handler; start them the other way round
        for name in reversed(COMPONENTS):
            self._converge_one(name, wanted[name], stop_phase=True, report=report)
        for name in COMPONENTS:
            self._converge_one(name, wanted[name], stop_phase=False, report=report)

    def _converge_one(self, name: str, want: bool, *, stop_phase: bool, report: PassReport) -> None:
        try:
            actual = self.lifecycle.backend(name).status()
            if stop_phase and not want and actual.running:
                result = self.lifecycle.stop(name, reason="schedule")
                report.actions.append({"component": name, **result.as_dict()})
            elif not stop_phase and want and not actual.running:
                if name == "order_session" and self.session_gate is not None:
                    allowed, why = self.session_gate(self.engine.trade_date(self.now))
                    if not allowed:
                        report.errors.append(
                            {
                                "component": name,
                                "code": "registration.missing",
                                "message": f"order session not started: {why}",
                                "hint": "run `ncctl party register`, or set "
                                "ilink.require_registration = false",
                            }
                        )
                        return
                result = self.lifecycle.start(name, reason="schedule")
                action = result.as_dict()
                if actual.state == "crashed":
                    action["after_crash"] = {"exit_code": actual.exit_code}
                report.actions.append({"component": name, **action})
        except NcctlError as err:
            report.errors.append({"component": name, **err.as_dict()})

    # -- jobs -----------------------------------------------------------------------------

    def due(self) -> list[tuple[Job, dt.datetime, list[dt.datetime]]]:
        """For each job, its latest instance in the look-back horizon, with the older ones it
        supersedes (each pass works on the newest: the last closed trade date, the whole
        upload queue, this week's registration), in schedule order."""
        latest = job_instants(self.engine, self.now, LOOKBACK, self.jobs)
        out = [
            (job, latest[job.name][-1], latest[job.name][:-1])
            for job in self.jobs
            if job.name in latest
        ]
        return sorted(out, key=lambda item: item[1])

    def run_jobs(self, report: PassReport) -> None:
        import time

        store = JobStore(job_store_path(self.config.state_dir), expect_records=not self.rebuild)
        try:
            for job, instant, older in self.due():
                for past in older:
                    if store.claim(job.name, past.isoformat(), 0.0):
                        store.done(job.name, past.isoformat(), note="superseded")
                key = instant.isoformat()
                record = store.get(job.name, key)
                closes = instant + job.window
                if record is not None and record.state == "done":
                    continue
                if (
                    record is not None
                    and record.state == "failed"
                    and record.next_try_ns > time.time_ns()
                ):
                    self._maybe_alert(
                        store, job, key, closes=closes, error=record.last_error, report=report
                    )
                    continue
                lateness = (self.now - instant).total_seconds()
                if not store.claim(job.name, key, lateness):
                    continue
                try:
                    result = ACTIONS[job.name](self, instant)
                except NcctlError as err:
                    attempts = (record.attempts if record else 0) + 1
                    backoff = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempts - 1))
                    store.failed(job.name, key, err.message, backoff * (0.5 + self.jitter()))
                    report.jobs.append(
                        {"job": job.name, "instance": key, "state": "failed", **err.as_dict()}
                    )
                    self._maybe_alert(
                        store, job, key, closes=closes, error=err.message, report=report
                    )
                    continue
                store.done(job.name, key)
                if "alert" in result:  # done without doing it (a rotation into the past)
                    store.mark_alerted(job.name, key)
                self.journal.append(
                    f"job {job.name}", [key], "ok", details={"lateness_s": lateness, **result}
                )
                report.jobs.append(
                    {
                        "job": job.name,
                        "instance": key,
                        "state": "done",
                        "lateness_s": lateness,
                        "result": result,
                    }
                )
        finally:
            store.close()

    def _maybe_alert(
        self,
        store: JobStore,
        job: Job,
        key: str,
        *,
        closes: dt.datetime,
        error: str | None,
        report: PassReport,
    ) -> None:
        record = store.get(job.name, key)
        if self.now < closes or record is None or record.alerted:
            return
        store.mark_alerted(job.name, key)
        alert = {
            "job": job.name,
            "instance": key,
            "window_closed": closes.isoformat(),
            "error": error,
        }
        self.journal.append(f"alert {job.name}", [key], "alert", details=alert)
        report.alerts.append(alert)

    # -- the pass -------------------------------------------------------------------------

    def run(self) -> PassReport:
        """Jobs first (the Sunday registration precedes the order session), then components."""
        report = PassReport(at=self.now.astimezone(self.engine.zone).isoformat(timespec="seconds"))
        self.run_jobs(report)
        self.converge(report)
        return report


def reconciler_for(
    config: NcctlConfig,
    engine: ScheduleEngine,
    now: dt.datetime,
    *,
    config_path: Path | None = None,
    preflight: bool = True,
    simulated: bool = False,
    component_env: dict[str, str] | None = None,
    rebuild: bool = False,
) -> Reconciler:
    """The reconcile pass of ``config`` at ``now``, with the jobs it runs wired in: party
    registration and the order session's gate when ``[[party_details]]`` are configured, and
    the Sunday preflight unless ``preflight`` is False (``simulated``: the checks run under a
    simulated clock)."""
    from ncctl.runner.job_actions import preflight_hook
    from ncctl.runner.registration import registration_hook, session_gate

    return Reconciler(
        config,
        engine,
        now,
        config_path=config_path,
        registration_hook=registration_hook(config),
        preflight_hook=preflight_hook(simulated=simulated) if preflight else None,
        session_gate=session_gate(config),
        component_env=component_env if component_env is not None else {},
        rebuild=rebuild,
    )
