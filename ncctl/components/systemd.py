"""The systemd backend: components run as systemd services (staging and production hosts).

Everything goes through ``systemctl`` with an argv list, never a shell, and a timeout:

* ``status()``: ``systemctl show UNIT --property=...`` (one call);
* ``start()``: ``systemctl is-active UNIT``, then ``systemctl start UNIT`` unless it is active
  already, then ``show`` for the new status;
* ``stop()``: ``is-active``, then ``systemctl stop UNIT`` unless it is inactive already; a failed
  unit is not running, so it is only acknowledged with ``systemctl reset-failed UNIT``.

``systemctl`` runs with ``TZ=UTC`` so that the timestamps it prints are unambiguous.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Mapping

from ncctl.components.backend import ActionResult, ComponentStatus
from ncctl.components.section import ComponentConfig
from ncctl.errors import ConfigError, TemporaryError, UnavailableError

DEFAULT_UNITS = {
    "feed_handler": "ncctl-feed-handler.service",
    "order_session": "ncctl-order-session.service",
}
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\-]+\.service")


def component_unit(name: str, config: ComponentConfig) -> str:
    """The systemd unit of component ``name``: ``components.NAME.unit`` or ncctl's default."""
    unit = config.unit or DEFAULT_UNITS.get(name) or f"ncctl-{name.replace('_', '-')}.service"
    if "." not in unit:
        unit += ".service"
    if not _UNIT_NAME.fullmatch(unit):
        raise ConfigError(
            f"components.{name}.unit: {unit!r} is not a service unit name",
            hint="use a name such as ncctl-feed-handler.service (letters, digits, ':', '-', "
            "'_', '.')",
        )
    return unit


QUERY_TIMEOUT_S = 15.0
"""``is-active``, ``show`` and ``reset-failed`` answer at once unless systemd is stuck."""
JOB_TIMEOUT_S = 120.0
"""``start`` and ``stop`` wait for their job: beyond systemd's default 90 s job timeouts."""
SHOW_PROPERTIES = (
    "ActiveState",
    "SubState",
    "MainPID",
    "ExecMainStartTimestamp",
    "ExecMainStatus",
    "Result",
    "LoadState",
)
TRANSITIONAL = ("activating", "deactivating", "reloading")


def parse_properties(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines of ``systemctl show`` as a dict (values may contain ``=``)."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key:
            props[key.strip()] = value
    return props


def parse_timestamp(text: str) -> dt.datetime | None:
    """A systemd timestamp printed under ``TZ=UTC`` (``Thu 2024-05-02 15:11:12 UTC``) or in
    the ``@SECONDS`` form, as an aware datetime; None when empty or in another form."""
    text = text.strip()
    if not text or text == "n/a":
        return None
    if text.startswith("@"):
        try:
            return dt.datetime.fromtimestamp(float(text[1:]), dt.UTC)
        except (ValueError, OverflowError, OSError):
            return None
    parts = text.split()
    if len(parts) not in (3, 4) or parts[-1] not in ("UTC", "GMT"):
        return None
    try:
        return dt.datetime.fromisoformat(f"{parts[-3]}T{parts[-2]}+00:00")
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _failure_detail(result: str, code: int | None) -> str:
    if result == "exit-code" and code is not None:
        what = f"exited with status {code}"
    elif result == "signal" and code is not None:
        what = f"killed by signal {code}"
    elif result == "core-dump" and code is not None:
        what = f"dumped core (signal {code})"
    elif result == "timeout":
        what = "timed out"
    elif result == "watchdog":
        what = "watchdog timeout"
    elif result == "start-limit-hit":
        what = "restarted too often (start limit hit)"
    else:
        what = "failed"
    return f"{what} (Result={result or 'unknown'})"


def status_from_properties(
    name: str, unit: str, props: Mapping[str, str], kind: str = "systemd"
) -> ComponentStatus:
    """Map ``systemctl show`` properties to a :class:`ComponentStatus`.

    active -> running, inactive -> stopped, failed -> crashed (exit code ExecMainStatus),
    activating/deactivating/reloading (and anything else) -> unknown with the state as detail.
    """
    active = props.get("ActiveState", "")
    sub = props.get("SubState", "")
    pid = _int(props.get("MainPID"))
    pid = pid if pid and pid > 0 else None
    since = parse_timestamp(props.get("ExecMainStartTimestamp", ""))
    if props.get("LoadState") == "not-found":
        return ComponentStatus(
            name, kind, "stopped", detail=f"{unit} is not installed (LoadState=not-found)"
        )
    if active == "active":
        detail = "" if sub in ("running", "") else f"active ({sub})"
        return ComponentStatus(name, kind, "running", pid=pid, since=since, detail=detail)
    if active == "inactive":
        return ComponentStatus(name, kind, "stopped")
    if active == "failed":
        code = _int(props.get("ExecMainStatus"))
        return ComponentStatus(
            name,
            kind,
            "crashed",
            since=since,
            exit_code=code,
            detail=_failure_detail(props.get("Result", ""), code),
        )
    state = f"{active} ({sub})" if sub else (active or "no ActiveState from systemctl show")
    return ComponentStatus(name, kind, "unknown", pid=pid, since=since, detail=state)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


class SystemdBackend:
    """Start, stop and observe one component as a systemd service, through ``systemctl``."""

    kind = "systemd"

    def __init__(
        self,
        name: str,
        config: ComponentConfig,
        systemctl: str = "systemctl",
        *,
        timeout_s: float | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.systemctl = systemctl
        self.unit = component_unit(name, config)
        self.timeout_s = timeout_s

    # -- systemctl ------------------------------------------------------------------------

    def _timeout(self, verb: str) -> float:
        if self.timeout_s is not None:
            return self.timeout_s
        if verb == "start":
            return JOB_TIMEOUT_S
        if verb == "stop":
            return max(JOB_TIMEOUT_S, self.config.stop_timeout_s + 30.0)
        return QUERY_TIMEOUT_S

    def _run(self, verb: str, *extra: str) -> subprocess.CompletedProcess[str]:
        argv = [self.systemctl, verb, self.unit, *extra]
        timeout = self._timeout(verb)
        try:
            return subprocess.run(
                argv,
                capture_output=True,
                text=True,
                errors="replace",
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
                env={**os.environ, "TZ": "UTC", "SYSTEMD_COLORS": "0"},
            )
        except FileNotFoundError:
            raise UnavailableError(
                f"{self.systemctl}: systemctl not found, so {self.unit} cannot be controlled",
                hint=f'components.{self.name}.backend is "systemd": install systemd, or use '
                'backend = "process" on a host without it',
                code="systemd.no_systemctl",
            ) from None
        except subprocess.TimeoutExpired:
            raise TemporaryError(
                f"`systemctl {verb} {self.unit}` did not answer within {timeout:g} s",
                hint=f"systemd may be busy: retry, and check `systemctl status {self.unit}`",
                code="systemd.timeout",
            ) from None
        except OSError as exc:
            raise UnavailableError(
                f"{self.systemctl}: cannot run systemctl: {exc.strerror}",
                hint="check that it is an executable file",
                code="systemd.no_systemctl",
            ) from None

    def _failed(
        self, verb: str, done: subprocess.CompletedProcess[str], hint: str = ""
    ) -> UnavailableError:
        why = _first_line(done.stderr) or f"exit status {done.returncode}"
        code = "systemd.unit_not_found" if "not found" in why else f"systemd.{verb}_failed"
        if code == "systemd.unit_not_found":
            hint = (
                "install it: `ncctl systemd units --output DIR`, copy the files to "
                "/etc/systemd/system, then `systemctl daemon-reload`"
            )
        return UnavailableError(
            f"systemctl {verb} {self.unit} failed: {why}",
            hint=hint or f"check `systemctl status {self.unit}`; is systemd this host's init?",
            code=code,
        )

    def _is_active(self) -> str:
        done = self._run("is-active")
        word = _first_line(done.stdout)
        if not word:
            raise self._failed("is-active", done)
        return word

    # -- status ---------------------------------------------------------------------------

    def status(self) -> ComponentStatus:
        done = self._run("show", "--property=" + ",".join(SHOW_PROPERTIES))
        if done.returncode != 0:
            raise self._failed("show", done)
        return status_from_properties(self.name, self.unit, parse_properties(done.stdout))

    # -- start and stop -------------------------------------------------------------------

    def start(self) -> ActionResult:
        if self._is_active() == "active":
            current = self.status()
            pid = f", pid {current.pid}" if current.pid else ""
            return ActionResult(
                self.name, "start", False, f"already running ({self.unit}{pid})", current
            )
        done = self._run("start")
        if done.returncode != 0:
            raise self._failed("start", done, hint=f"read its log: journalctl -u {self.unit}")
        after = self.status()
        if after.state == "crashed":
            raise UnavailableError(
                f"{self.unit} failed right after it started: {after.detail}",
                hint=f"read its log: journalctl -u {self.unit}",
                code="component.failed",
            )
        pid = f" (pid {after.pid})" if after.pid else ""
        return ActionResult(self.name, "start", True, f"started {self.unit}{pid}", after)

    def stop(self) -> ActionResult:
        state = self._is_active()
        stopped = ComponentStatus(self.name, self.kind, "stopped")
        if state == "inactive":
            return ActionResult(self.name, "stop", False, f"already stopped ({self.unit})", stopped)
        if state == "failed":
            before = self.status()
            done = self._run("reset-failed")
            if done.returncode != 0:
                raise self._failed("reset-failed", done)
            return ActionResult(
                self.name,
                "stop",
                False,
                f"not running ({self.unit} had {before.detail or 'failed'}); "
                "its failed state is cleared",
                stopped,
            )
        done = self._run("stop")
        if done.returncode != 0:
            raise self._failed("stop", done, hint=f"read its log: journalctl -u {self.unit}")
        after = self.status()
        message = f"stopped {self.unit}"
        if after.state != "stopped":
            message += f"; it is now {after.state}" + (f": {after.detail}" if after.detail else "")
        return ActionResult(self.name, "stop", True, message, after)

    # -- reopen ---------------------------------------------------------------------------

    def reopen(self) -> bool:
        """Send SIGHUP to the unit's main process (it reopens its files); False if inactive."""
        if self._is_active() != "active":
            return False
        done = self._run("kill", "--signal=SIGHUP", "--kill-whom=main")
        if done.returncode != 0:
            raise self._failed("kill", done)
        return True
