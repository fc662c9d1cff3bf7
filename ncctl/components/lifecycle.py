"""Starting and stopping components under the schedule's guard, with a journal record.

``session start`` outside order-entry hours or inside the maintenance window, and ``feed
start`` outside feed-handler hours, are refused with the schedule's reason and the next allowed
time; stopping (or restarting) a running component while the schedule wants it up is refused
too; a manual start of the order session applies the party-registration gate the runner
applies. Each is overridden only with ``--force --reason``. Every action, refused ones
included, is journaled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl.components.backend import COMPONENTS, ActionResult, Backend, ComponentStatus
from ncctl.components.section import ComponentsConfig
from ncctl.errors import NcctlError, RefusedError, UsageError
from ncctl.journal import Journal, journal_path
from ncctl.override import check_force
from ncctl.schedule import ScheduleEngine, ScheduleSnapshot

COMMAND_GROUP = {"feed_handler": "feed", "order_session": "session"}
UP_EVENT = {"feed_handler": "feed_handler.on", "order_session": "order_entry.up"}
DOWN_EVENT = {"feed_handler": "feed_handler.off", "order_session": "order_entry.down"}
HOURS = {"feed_handler": "feed-handler", "order_session": "order-entry"}


def backend_for(
    name: str,
    components: ComponentsConfig,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
) -> Backend:
    """The backend ``components`` configures for component ``name`` (a process component keeps
    its pid file and log under ``state_dir``). A process component is started with ``env``
    added to ncctl's environment (what the configuration hands it: see
    :func:`ncctl.appconfig.component_env.component_environment`)."""
    if name not in COMPONENTS:
        raise UsageError(f"unknown component {name!r}", hint=f"one of {', '.join(COMPONENTS)}")
    comp = getattr(components, name)
    if comp.backend == "systemd":
        from ncctl.components.systemd import SystemdBackend

        return SystemdBackend(name, comp)
    from ncctl.components.process import ProcessBackend

    return ProcessBackend(name, comp, state_dir, base_env=dict(env or {}))


def desired_running(name: str, state: ScheduleSnapshot) -> bool:
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


def stop_guard(engine: ScheduleEngine, name: str, now: dt.datetime) -> Refusal | None:
    """Why the schedule forbids stopping ``name`` at ``now`` (it wants it up), or None."""
    state = engine.state_at(now)
    if not desired_running(name, state):
        return None
    upcoming = engine.next_transitions(now, 1, prefix=DOWN_EVENT[name])
    return Refusal(
        f"the schedule wants {name} running now ({HOURS[name]} hours, market {state.market_state})",
        upcoming[0].at if upcoming else None,
    )


def _iso(t: dt.datetime | None, zone: Any) -> str | None:
    return t.astimezone(zone).isoformat(timespec="seconds") if t else None


class Lifecycle:
    """Actions on components, guarded by the schedule and recorded in the journal."""

    def __init__(
        self,
        components: ComponentsConfig,
        state_dir: Path,
        engine: ScheduleEngine,
        now: dt.datetime,
        journal: Journal | None = None,
        *,
        environments: Mapping[str, Mapping[str, str]] | None = None,
        component_env: dict[str, str] | None = None,
        session_gate: Callable[[dt.date], tuple[bool, str]] | None = None,
    ) -> None:
        """``environments``: what each component is started with, by name (see
        :func:`ncctl.appconfig.component_env.component_environments`); ``component_env``:
        added for every component. ``session_gate``: whether the order session may come up on
        a trade date (the party-registration gate of
        :func:`ncctl.runner.registration.session_gate`)."""
        self.components = components
        self.state_dir = state_dir
        self.environments = environments or {}
        self.session_gate = session_gate
        self.component_env = component_env or {}
        self.engine = engine
        self.now = now
        self.journal = journal or Journal(journal_path(state_dir))

    def backend(self, name: str) -> Backend:
        env = {**self.environments.get(name, {}), **self.component_env}
        return backend_for(name, self.components, self.state_dir, env)

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

    def _refuse(
        self, name: str, action: str, why: str, details: dict[str, Any], *, code: str
    ) -> RefusedError:
        """Journal a refusal and return the error to raise."""
        self._record(name, action, "refused", None, details)
        return RefusedError(
            f"{COMMAND_GROUP[name]} {action} refused: {why}",
            hint="wait for the schedule, or override with --force --reason TEXT"
            if code == "schedule.refused"
            else "run `ncctl party register`, or override with --force --reason TEXT",
            code=code,
        )

    def _guarded(
        self, name: str, action: str, refusal: Refusal | None, force: bool, key: str
    ) -> dict[str, Any]:
        """Nothing when ``refusal`` is None; the journal details of an override when forced;
        otherwise a journaled refusal raised."""
        if refusal is None:
            return {}
        if force:
            return {key: refusal.reason}
        when = _iso(refusal.next_allowed, self.engine.zone)
        details = {"schedule": refusal.reason, "next_allowed": when}
        then = "it is scheduled down" if key == "overrides_stop" else "next allowed"
        raise self._refuse(
            name, action, f"{refusal.reason}; {then} at {when}", details, code="schedule.refused"
        )

    def _registered(self, name: str, action: str, force: bool) -> dict[str, Any]:
        """The party-registration gate of the order session, as the runner applies it."""
        if name != "order_session" or self.session_gate is None:
            return {}
        allowed, why = self.session_gate(self.engine.trade_date(self.now))
        if allowed:
            return {}
        if force:
            return {"overrides_registration": why}
        raise self._refuse(
            name,
            action,
            f"party details are not registered ({why})",
            {"registration": why},
            code="registration.missing",
        )

    def _running(self, name: str) -> bool:
        return self.backend(name).status().running

    def _allowed(self, name: str, action: str, force: bool, reason: str | None) -> dict[str, Any]:
        """Pass the guards of ``action`` or raise (journaled); the journal details of the
        overrides. A stop, or the stop of a restart, of a running component the schedule
        wants up is guarded; a start, or the start of a restart, by the schedule's hours
        and the registration gate."""
        check_force(force, reason, "the schedule is overridden")
        details: dict[str, Any] = {}
        if action in ("stop", "restart") and self._running(name):
            refusal = stop_guard(self.engine, name, self.now)
            details |= self._guarded(name, action, refusal, force, "overrides_stop")
        if action in ("start", "restart"):
            refusal = guard(self.engine, name, self.now)
            details |= self._guarded(name, action, refusal, force, "overrides")
            details |= self._registered(name, action, force)
        return details

    def start(self, name: str, *, force: bool = False, reason: str | None = None) -> ActionResult:
        details = self._allowed(name, "start", force, reason)
        return self._act(name, "start", reason, details)

    def stop(self, name: str, *, force: bool = False, reason: str | None = None) -> ActionResult:
        details = self._allowed(name, "stop", force, reason)
        return self._act(name, "stop", reason, details)

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
