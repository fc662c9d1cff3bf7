"""Starting and stopping components under the schedule's guard, with a journal record.

``session start`` outside order-entry hours or inside the maintenance window, and ``feed
start`` outside feed-handler hours, are refused with the schedule's reason and the next allowed
time, unless forced with a reason. Every action, refused ones included, is journaled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl.components.base import COMPONENTS, ActionResult, Backend, ComponentStatus
from ncctl.config import NcctlConfig
from ncctl.errors import NcctlError, RefusedError, UsageError
from ncctl.journal import Journal, journal_path
from ncctl.schedule import ScheduleEngine, ScheduleState

COMMAND_GROUP = {"feed_handler": "feed", "order_session": "session"}
UP_EVENT = {"feed_handler": "feed_handler.on", "order_session": "order_entry.up"}


def backend_for(
    name: str,
    config: NcctlConfig,
    config_path: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Backend:
    """The backend configured for component ``name``. A process component inherits
    ``NCCTL_CONFIG`` pointing at ``config_path`` so that a simulator reads the same file."""
    if name not in COMPONENTS:
        raise UsageError(f"unknown component {name!r}", hint=f"one of {', '.join(COMPONENTS)}")
    comp = getattr(config.components, name)
    if comp.backend == "systemd":
        from ncctl.components.systemd import SystemdBackend

        return SystemdBackend(name, comp)
    from ncctl.components.process import ProcessBackend

    env = {"NCCTL_CONFIG": str(config_path.absolute())} if config_path else {}
    env.update(extra_env or {})
    return ProcessBackend(name, comp, config.state_dir, base_env=env)


def desired_running(name: str, state: ScheduleState) -> bool:
    """Whether the schedule wants component ``name`` running in ``state``."""
    if name == "feed_handler":
        return state.feed_handler
    return state.order_entry


@dataclass(frozen=True)
class Refusal:
    reason: str
    next_allowed: dt.datetime | None


def guard(engine: ScheduleEngine, name: str, now: dt.datetime) -> Refusal | None:
    """Why the schedule forbids starting ``name`` at ``now``, or None when it allows it."""
    state = engine.state_at(now)
    if desired_running(name, state):
        return None
    upcoming = engine.next_transitions(now, 1, prefix=UP_EVENT[name])
    next_allowed = upcoming[0].at if upcoming else None
    if name == "order_session":
        if state.maintenance:
            reason = "inside the daily maintenance window (order entry is down 16:01-16:29 CT)"
        elif not state.feed_handler:
            reason = "outside order-entry hours (the trading week is not running)"
        else:
            reason = "order entry is scheduled down"
    else:
        reason = "outside feed-handler hours (the trading week is not running)"
    return Refusal(reason, next_allowed)


def _iso(t: dt.datetime | None, zone: Any) -> str | None:
    return t.astimezone(zone).isoformat(timespec="seconds") if t else None


class Lifecycle:
    """Actions on components, guarded by the schedule and recorded in the journal."""

    def __init__(
        self,
        config: NcctlConfig,
        engine: ScheduleEngine,
        now: dt.datetime,
        journal: Journal | None = None,
        *,
        config_path: Path | None = None,
        component_env: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.component_env = component_env or {}
        self.engine = engine
        self.now = now
        self.journal = journal or Journal(journal_path(config.state_dir))

    def backend(self, name: str) -> Backend:
        return backend_for(name, self.config, self.config_path, self.component_env)

    def _record(
        self,
        name: str,
        action: str,
        outcome: str,
        reason: str | None,
        details: dict[str, Any],
    ) -> None:
        command = f"{COMMAND_GROUP[name]} {action}"
        self.journal.append(command, {"component": name}, outcome, reason=reason, details=details)

    def check_force(self, force: bool, reason: str | None) -> None:
        if force and not (reason and reason.strip()):
            raise UsageError(
                "--force needs --reason TEXT", hint="say why the schedule is overridden"
            )

    def _allowed(self, name: str, action: str, force: bool, reason: str | None) -> dict[str, Any]:
        """Pass the schedule's guard or raise (journaled); the journal details of an override."""
        self.check_force(force, reason)
        refusal = guard(self.engine, name, self.now)
        if refusal is None:
            return {}
        if force:
            return {"overrides": refusal.reason}
        when = _iso(refusal.next_allowed, self.engine.zone)
        self._record(
            name, action, "refused", None, {"schedule": refusal.reason, "next_allowed": when}
        )
        raise RefusedError(
            f"{COMMAND_GROUP[name]} {action} refused: {refusal.reason}; next allowed at {when}",
            hint="wait for the schedule, or override with --force --reason TEXT",
            code="schedule.refused",
        )

    def start(self, name: str, *, force: bool = False, reason: str | None = None) -> ActionResult:
        details = self._allowed(name, "start", force, reason)
        return self._act(name, "start", reason, details)

    def stop(self, name: str, *, reason: str | None = None) -> ActionResult:
        return self._act(name, "stop", reason, {})

    def restart(self, name: str, *, force: bool = False, reason: str | None = None) -> ActionResult:
        details = self._allowed(name, "restart", force, reason)
        backend = self.backend(name)
        try:
            stopped = backend.stop()
            started = backend.start()
        except NcctlError as err:
            self._record(name, "restart", "failed", reason, {**details, "error": err.message})
            raise
        message = f"{stopped.message}; {started.message}"
        self._record(name, "restart", "ok", reason, {**details, "message": message})
        return ActionResult(name, "restart", True, message, started.status)

    def _act(
        self, name: str, action: str, reason: str | None, details: dict[str, Any]
    ) -> ActionResult:
        backend = self.backend(name)
        try:
            result = backend.start() if action == "start" else backend.stop()
        except NcctlError as err:
            self._record(name, action, "failed", reason, {**details, "error": err.message})
            raise
        outcome = "ok" if result.changed else "noop"
        self._record(name, action, outcome, reason, {**details, "message": result.message})
        return result

    def status(self, name: str) -> dict[str, Any]:
        """Desired (schedule) against actual (backend) for one component."""
        state = self.engine.state_at(self.now)
        desired = "running" if desired_running(name, state) else "stopped"
        actual: ComponentStatus = self.backend(name).status()
        drift = (desired == "running") != actual.running
        return {
            "name": name,
            "backend": actual.backend,
            "desired": desired,
            "actual": actual.state,
            "pid": actual.pid,
            "since": actual.since.isoformat(timespec="seconds") if actual.since else None,
            "exit_code": actual.exit_code,
            "detail": actual.detail,
            "log_tail": actual.log_tail,
            "drift": drift,
        }
