"""``ncctl scheduler run``: the schedule engine as a long-running daemon (APScheduler 3.11).

APScheduler lives here only. The scheduler and every trigger get the schedule's zone
(America/Chicago). One date trigger per upcoming transition (the next eight days, rebuilt every
night at 00:05 local time and at start), plus an interval trigger every
``runner.reconcile_interval_s`` as the safety net, all calling the same idempotent reconcile
pass on a single worker thread (coalesced, one instance). Missed runs are not APScheduler's
business: the pass catches up from its own done-records, so misfire grace is unlimited.

The main thread only waits: the SIGTERM handler sets a flag, the main thread then sends
``STOPPING=1`` and shuts the scheduler down waiting for a running pass. With ``$NOTIFY_SOCKET``
set (systemd ``Type=notify``) it sends ``READY=1`` once started and, when systemd asks for a
watchdog (``$WATCHDOG_USEC``), ``WATCHDOG=1`` at the end of every reconcile pass and of nothing
else: a pass that hangs (or a scheduler that stops running passes) starves the watchdog, and
systemd restarts the daemon after ``WatchdogSec=``. Log lines on stderr are JSON objects, one
per line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.appconfig.model import NcctlConfig
from ncctl.schedule import ScheduleEngine

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from ncctl.metrics.server import MetricsServer

HORIZON = dt.timedelta(days=8)


def log(event: str, **fields: Any) -> None:
    """One structured log line on stderr."""
    line = {"ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": event}
    line.update(fields)
    sys.stderr.write(json.dumps(line, default=str) + "\n")
    sys.stderr.flush()


class Notifier:
    """sd_notify(3) over ``$NOTIFY_SOCKET``; silent when it is not set."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")

    def __call__(self, message: str) -> bool:
        if not self.address:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(target)
                sock.sendall(message.encode())
        except OSError as exc:
            log("notify_failed", message=message, error=str(exc))
            return False
        return True


def watchdog_timeout() -> float | None:
    """``$WATCHDOG_USEC`` in seconds, when systemd asks this process for a watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        return None
    return seconds if seconds > 0 else None


class Daemon:
    def __init__(
        self,
        config: NcctlConfig,
        engine: ScheduleEngine,
        config_path: Path | None,
        notify: Notifier | None = None,
        collector: Collector | None = None,
    ) -> None:
        """``collector``: what ``/metrics`` serves on ``[metrics] listen:port`` while the
        daemon runs (None: no endpoint)."""
        self.config = config
        self.engine = engine
        self.config_path = config_path
        self.notify = notify or Notifier()
        self.collector = collector
        self.stop = threading.Event()
        self.passes = 0
        self.failed = 0
        self.watchdog = watchdog_timeout()

    # -- the work -------------------------------------------------------------------------

    def reconcile(self, reason: str) -> None:
        """One pass; the watchdog is fed when it ends, whatever its outcome (a pass that
        fails is not hung: restarting the daemon would not help it)."""
        try:
            self._reconcile(reason)
        finally:
            if self.watchdog is not None:
                self.notify("WATCHDOG=1")

    def _reconcile(self, reason: str) -> None:
        from ncctl.errors import NcctlError
        from ncctl.locks import RUNNER_LOCK_WAIT_S, hold
        from ncctl.runner.reconcile import reconciler_for

        started = time.monotonic()
        now = dt.datetime.now(dt.UTC)
        try:
            with hold(self.config.state_dir, "runner", RUNNER_LOCK_WAIT_S, f"scheduler: {reason}"):
                report = reconciler_for(
                    self.config, self.engine, now, config_path=self.config_path
                ).run()
        except NcctlError as err:
            self.failed += 1
            log("pass_failed", reason=reason, **err.as_dict())
            return
        except Exception as exc:  # a daemon must outlive one bad pass
            self.failed += 1
            log("pass_crashed", reason=reason, error=f"{type(exc).__name__}: {exc}")
            return
        self.passes += 1
        if report.actions or report.jobs or report.alerts or report.errors or reason != "interval":
            log(
                "pass",
                reason=reason,
                at=report.at,
                seconds=round(time.monotonic() - started, 3),
                actions=[f"{a['component']} {a['action']}: {a['message']}" for a in report.actions],
                jobs=[f"{j['job']} {j['instance']} {j['state']}" for j in report.jobs],
                alerts=report.alerts,
                errors=report.errors,
            )

    def schedule_transitions(self, scheduler: Any) -> int:
        """One date trigger per transition of the coming days (idempotent by job id)."""
        from apscheduler.triggers.date import DateTrigger

        now = dt.datetime.now(dt.UTC)
        added = 0
        for tr in self.engine.transitions(now, now + HORIZON):
            job_id = f"event {tr.at.isoformat()}"
            if scheduler.get_job(job_id) is not None:
                continue
            scheduler.add_job(
                self.reconcile,
                DateTrigger(run_date=tr.at, timezone=self.engine.zone),
                args=[f"event {tr.event} at {tr.at.isoformat()}"],
                id=job_id,
                misfire_grace_time=None,
                coalesce=True,
                max_instances=1,
            )
            added += 1
        return added

    # -- running --------------------------------------------------------------------------

    def serve_metrics(self) -> MetricsServer | None:
        """Start the ``/metrics`` endpoint of the collector the daemon was handed."""
        if self.collector is None:
            return None
        from ncctl.metrics.server import serve

        metrics = self.config.metrics
        server = serve(self.collector, metrics.listen, metrics.port, tls=metrics.tls())
        log("metrics", url=server.url)
        return server

    def run(self) -> int:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        zone = self.engine.zone
        scheduler = BackgroundScheduler(
            timezone=zone,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        interval = self.config.runner.reconcile_interval_s
        scheduler.add_job(
            self.reconcile,
            IntervalTrigger(seconds=interval, timezone=zone),
            args=["interval"],
            id="reconcile",
            next_run_time=dt.datetime.now(zone),  # catch up at once
        )
        scheduler.add_job(
            self.schedule_transitions,
            CronTrigger(hour=0, minute=5, timezone=zone),
            args=[scheduler],
            id="rebuild",
        )
        added = self.schedule_transitions(scheduler)
        metrics_server = self.serve_metrics()
        scheduler.start()
        log(
            "started",
            pid=os.getpid(),
            transitions=added,
            interval_s=interval,
            watchdog_s=self.watchdog,
        )
        if self.watchdog is not None and self.watchdog <= 2 * interval:
            log(
                "watchdog_too_short",
                watchdog_s=self.watchdog,
                interval_s=interval,
                hint="WatchdogSec= must allow a few reconcile intervals: regenerate the units "
                "(ncctl systemd units) or raise [systemd] watchdog_intervals",
            )
        self.notify("READY=1")
        try:
            while not self.stop.wait(3600.0):
                pass
        finally:
            log("stopping")
            self.notify("STOPPING=1")
            scheduler.shutdown(wait=True)
            if metrics_server is not None:
                metrics_server.stop()
            log("stopped", passes=self.passes, failed=self.failed)
        return 0

    def install_signal_handlers(self) -> None:
        def on_signal(signum: int, _frame: object) -> None:
            self.stop.set()  # only a flag: the main thread does the rest

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
