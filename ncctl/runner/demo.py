"""``ncctl demo``: a simulated CME week on the dev configuration, in a few minutes.

The week runs from Sunday 14:55 CT to Friday 16:05 CT on a shared simulated clock
(``$NCCTL_CLOCK_FILE``) that the simulators read too. The clock runs at the speed that fits
the week into the requested minutes; at each scheduled event it stands still while ncctl
reconciles (as in any discrete-event simulation), so each event is handled at its own
simulated instant, and every effect is checked: components started and stopped, the market
state published by the feed handler, registrations, rotations and uploads. Everything happens
in a fresh working directory (``state_dir/demo``, from which the relative paths of the
configuration are taken) so that the real dev state is left alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.appconfig.model import NcctlConfig
from ncctl.clock import CLOCK_FILE_ENV, SharedClock
from ncctl.components.backend import COMPONENTS
from ncctl.schedule import ScheduleEngine, Transition
from ncctl.sim_interface import DEMO_GATEWAY_SECRET_ENV, GATEWAY_ENV, TRADING_SYSTEM_NAME

WEEK_START = dt.time(14, 55)  # Sunday
WEEK_END = dt.time(16, 5)  # Friday
STATE_WAIT_S = 5.0
"""Real seconds allowed for the feed handler to publish a new market state."""


@dataclass
class EventCheck:
    at: str
    events: list[str]
    lateness_s: float
    pass_seconds: float
    actions: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seen: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "seen": self.seen,
            "events": self.events,
            "lateness_s": self.lateness_s,
            "pass_seconds": self.pass_seconds,
            "actions": self.actions,
            "jobs": self.jobs,
            "problems": self.problems,
        }


@dataclass
class DemoResult:
    week: str
    speed: float
    real_seconds: float = 0.0
    events: list[EventCheck] = field(default_factory=list)
    uploads_verified: int = 0
    uploads_missing: list[str] = field(default_factory=list)
    journal_lines: int = 0
    journal_intact: bool = False
    registration_rows: int = 0
    order_session_establishments: int | None = None
    """Sessions the gateway simulator saw the order session establish (None: no gateway)."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and all(not e.problems for e in self.events)
            and not self.uploads_missing
            and self.journal_intact
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "speed": self.speed,
            "real_seconds": round(self.real_seconds, 2),
            "events": [e.as_dict() for e in self.events],
            "uploads_verified": self.uploads_verified,
            "uploads_missing": self.uploads_missing,
            "journal_lines": self.journal_lines,
            "journal_intact": self.journal_intact,
            "registration_rows": self.registration_rows,
            "order_session_establishments": self.order_session_establishments,
            "problems": self.problems,
            "ok": self.ok,
        }


Listener = Callable[[str, dict[str, Any]], None]


class Demo:
    def __init__(
        self,
        config: NcctlConfig,
        *,
        config_path: Path,
        engine: ScheduleEngine,
        workdir: Path,
        sunday: dt.date,
        minutes: float,
        listener: Listener | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path.absolute()
        self.engine = engine
        self.workdir = workdir.absolute()
        self.sunday = sunday
        self.minutes = minutes
        self.listener = listener or (lambda _kind, _data: None)
        zone = engine.zone
        self.start = dt.datetime.combine(sunday, WEEK_START, tzinfo=zone)
        self.end = dt.datetime.combine(sunday + dt.timedelta(days=5), WEEK_END, tzinfo=zone)
        self.speed = (self.end - self.start).total_seconds() / (minutes * 60)
        self.clock = SharedClock(self.workdir / "clock.json")
        self.gateway: subprocess.Popen[bytes] | None = None
        self.component_env: dict[str, str] = {}
        """Environment for the components: ``NCCTL_GATEWAY`` once the gateway is up."""

    # -- set-up and tear-down -------------------------------------------------------------

    def _prepare(self) -> None:
        from ncctl.components.lifecycle import backend_for

        if self.workdir.exists():
            cwd = Path.cwd()
            os.chdir(self.workdir)
            try:
                for name in COMPONENTS:  # a previous demo interrupted: stop what it left
                    backend_for(name, self.config.components, self.config.state_dir).stop()
            finally:
                os.chdir(cwd)
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        os.chdir(self.workdir)
        os.environ[CLOCK_FILE_ENV] = str(self.clock.path)
        self.clock.set(self.start, speed=self.speed, paused=False)
        self._start_gateway()

    def _start_gateway(self) -> None:
        """The CME gateway simulator, when party details are to be registered."""
        import subprocess

        from ncctl import floor
        from ncctl.errors import UnavailableError
        from ncctl.floor import wait_until
        from ncctl.runner.dev_gateway import gateway_command

        ilink = self.config.ilink
        if not self.config.party_details or ilink.secret_key is None:
            return
        ready = self.workdir / "gateway.ready"
        # the gateway checks RequestTimestamp against the machine's clock, as CME does: it
        # does not get the simulated clock (every client stamps real time)
        env = {k: v for k, v in os.environ.items() if k != CLOCK_FILE_ENV}
        env[DEMO_GATEWAY_SECRET_ENV] = ilink.secret_key.get_secret_value()
        log = floor.open_file(self.workdir / "gateway.log", "ab", what="gateway log")
        self.gateway = subprocess.Popen(
            gateway_command(
                ilink,
                host="127.0.0.1",
                port=0,
                secret=["--secret-env", DEMO_GATEWAY_SECRET_ENV],
                ready_file=ready,
                state_file=self.workdir / "gateway.json",
            ),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if not wait_until(ready.exists, 15):
            raise UnavailableError(
                "the CME gateway simulator did not start", hint=f"read {self.workdir}/gateway.log"
            )
        port = int(json.loads(ready.read_text())["port"])
        self.config = self.config.model_copy(
            update={"ilink": ilink.model_copy(update={"port": port})}
        )
        # the order-session simulator holds its FIXP session with this gateway
        self.component_env = {GATEWAY_ENV: f"127.0.0.1:{port}"}

    def _teardown(self) -> None:
        from ncctl.components.lifecycle import backend_for

        for name in reversed(COMPONENTS):
            with contextlib.suppress(Exception):  # best effort at the end of a demo
                backend_for(name, self.config.components, self.config.state_dir).stop()
        if self.gateway is not None:
            self.gateway.terminate()
            try:
                self.gateway.wait(timeout=10)
            except Exception:  # pragma: no cover - a stuck simulator
                self.gateway.kill()
                self.gateway.wait(timeout=10)
        os.environ.pop(CLOCK_FILE_ENV, None)

    # -- the week -------------------------------------------------------------------------

    def _wait_until(self, instant: dt.datetime) -> None:
        """Let simulated time run up to just before ``instant``, then jump to it, paused."""
        while True:
            remaining = (instant - self.clock.now()).total_seconds() / self.speed
            if remaining <= 0.002:
                break
            time.sleep(min(remaining - 0.001, 0.1))
            self.listener("tick", {"now": self.clock.now().isoformat(timespec="seconds")})
        self.clock.set(instant, speed=self.speed, paused=True)

    def _feed_state(self) -> dict[str, Any] | None:
        path = self.feed_status_file()
        try:
            doc = json.loads(path.read_text(encoding="utf-8")) if path else None
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def feed_status_file(self) -> Path | None:
        ready = self.config.components.feed_handler.ready
        if ready is not None and ready.kind == "status_file" and ready.path is not None:
            return ready.path
        return None

    def _check(self, group: list[Transition], check: EventCheck) -> None:
        from ncctl.components.lifecycle import Lifecycle
        from ncctl.floor import wait_until

        instant = group[0].at
        config = self.config
        life = Lifecycle(config.components, config.state_dir, self.engine, instant)
        for name in COMPONENTS:
            row = life.status(name)
            check.seen[name] = row["actual"]
            if row["drift"]:
                check.problems.append(f"{name} is {row['actual']}, should be {row['desired']}")
        state = self.engine.state_at(instant)
        if state.feed_handler and self.feed_status_file() is not None:
            want = state.market_state

            def published() -> bool:
                doc = self._feed_state()
                return doc is not None and doc.get("market_state") == want

            if not wait_until(published, STATE_WAIT_S):
                shown = (self._feed_state() or {}).get("market_state")
                check.problems.append(f"feed handler publishes {shown}, schedule says {want}")
        feed = self._feed_state() if state.feed_handler else None
        check.seen["market_state"] = feed.get("market_state") if feed else state.market_state
        check.seen["l3_loop"] = feed.get("l3_loop") if feed else "off"

    def run(self) -> DemoResult:
        from ncctl.runner.reconcile import reconciler_for

        result = DemoResult(self.sunday.isoformat(), round(self.speed, 1))
        began = time.monotonic()
        cwd = Path.cwd()
        self._prepare()
        try:
            transitions = self.engine.transitions(self.start, self.end)
            groups: list[list[Transition]] = []
            for tr in transitions:
                if groups and groups[-1][0].at == tr.at:
                    groups[-1].append(tr)
                else:
                    groups.append([tr])
            self.listener(
                "start",
                {
                    "start": self.start.isoformat(),
                    "events": len(transitions),
                    "instants": len(groups),
                },
            )
            for group in groups:
                instant = group[0].at
                self._wait_until(instant)
                now = self.clock.now()
                t0 = time.monotonic()
                report = reconciler_for(
                    self.config,
                    self.engine,
                    now,
                    config_path=self.config_path,
                    preflight=False,
                    component_env=self.component_env,
                ).run()
                check = EventCheck(
                    at=instant.isoformat(),
                    events=[t.event for t in group],
                    lateness_s=(now - instant).total_seconds(),
                    pass_seconds=round(time.monotonic() - t0, 3),
                    actions=[f"{a['component']}: {a['message']}" for a in report.actions],
                    jobs=[
                        f"{j['job']}: {j['state']}"
                        for j in report.jobs
                        if j["instance"] == instant.isoformat()
                    ],
                )
                check.problems += [f"{e.get('component')}: {e['message']}" for e in report.errors]
                for j in report.jobs:
                    if j["state"] != "done":
                        check.problems.append(f"job {j['job']}: {j.get('message', j['state'])}")
                expected_jobs = {
                    "party_registration": ["party_registration"],
                    "rotation.daily": ["rotate", "upload"],
                    "rotation.weekly": ["rotate", "upload"],
                }
                for t in group:
                    for job in expected_jobs.get(t.event, []):
                        if f"{job}: done" not in check.jobs:
                            check.problems.append(f"job {job} did not run at {t.event}")
                self._check(group, check)
                result.events.append(check)
                self.listener("event", check.as_dict())
                self.clock.set(instant, speed=self.speed, paused=False)
            self._wait_until(self.end)
            self._summarise(result)
        finally:
            self._teardown()
            os.chdir(cwd)
            result.real_seconds = time.monotonic() - began
        return result

    def _registration_rows_archived(self) -> int:
        """Rows of the archived audit trail that carry a PartyDetailsListReqID (tag 1505)."""
        import csv
        import gzip
        import io

        audit_dir = self.config.logs.archive_for("audit") if self.config.logs.audit else None
        count = 0
        for path in sorted(audit_dir.glob("*.gz")) if audit_dir else []:
            text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
            for row in csv.DictReader(io.StringIO(text)):
                if (row.get("Party Details List Request ID") or "").strip():
                    count += 1
        return count

    def _summarise(self, result: DemoResult) -> None:
        from ncctl.journal import journal_path, verify
        from ncctl.logs.inventory import inventory
        from ncctl.logs.manifest import Manifest, manifest_path

        manifest = Manifest(manifest_path(self.config.state_dir))
        try:
            inv = inventory(self.config.logs, manifest, self.engine, self.end)
        finally:
            manifest.close()
        for f in inv.files:
            for dest, d in f["destinations"].items():
                if d["state"] == "verified":
                    result.uploads_verified += 1
                else:
                    result.uploads_missing.append(f"{f['file']} -> {dest}: {d['state']}")
        if not inv.files:
            result.problems.append("no file was rotated")
        if self.config.party_details:
            rows = self._registration_rows_archived()
            result.registration_rows = rows
            if rows == 0:
                result.problems.append("the audit trail holds no party-details registration row")
        if self.gateway is not None:
            self._check_order_session_established(result)
        check = verify(journal_path(self.config.state_dir))
        result.journal_lines, result.journal_intact = check.lines, check.ok
        if not check.ok:
            result.problems.append(f"journal broken at line {check.broken_line}: {check.problem}")

    def _check_order_session_established(self, result: DemoResult) -> None:
        """The gateway simulator must have seen the order session establish its FIXP session
        (counted per TradingSystemName in its state file: ``ncctl party`` has another)."""
        path = self.workdir / "gateway.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            by_system = doc.get("establishments_by_system") or {}
            count = int(by_system.get(TRADING_SYSTEM_NAME, 0))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            result.problems.append(f"{path}: cannot read the gateway's state: {exc}")
            return
        result.order_session_establishments = count
        if count == 0:
            result.problems.append(
                "the gateway simulator saw no FIXP session established by the order session "
                f"(read {self.workdir}/gateway.log and the order session's log)"
            )
