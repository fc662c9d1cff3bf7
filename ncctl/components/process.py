"""The process backend: components run as detached child processes (containers, laptops).

Files, under ``RUN_DIR`` (``state_dir/run``) for component NAME:

* ``NAME.pid``  - written by the supervisor: the component's pid and start time (field 22 of
  /proc/PID/stat), so that a recycled pid is never taken for ours;
* ``NAME.exit`` - written by the supervisor when the component ends: its exit status;
* ``NAME.lock`` - held (flock) while starting or stopping, so that two concurrent ``start``
  calls start exactly one process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncctl import floor
from ncctl.components.base import ActionResult, ComponentStatus
from ncctl.components.procfs import read_stat
from ncctl.config import ComponentConfig, ReadyCheck
from ncctl.errors import CantCreateError, UnavailableError
from ncctl.floor import wait_until

__all__ = ["wait_until"]  # for the callers that still import it from here

POLL_S = 0.02
LOCK_WAIT_S = 30.0
LOG_TAIL_LINES = 10
PYTHON_PLACEHOLDER = "{python}"


class ComponentFailed(UnavailableError):
    """A component died or never became ready; carries the tail of its log."""

    default_code = "component.failed"

    def __init__(self, message: str, *, hint: str, log_tail: list[str]) -> None:
        super().__init__(message, hint=hint)
        self.log_tail = log_tail

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "log_tail": self.log_tail}

    def detail_lines(self) -> list[str]:
        return ["last lines of its log:", *(f"  {line}" for line in self.log_tail)]


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_ticks: int | None
    supervisor: int | None
    supervisor_start_ticks: int | None
    started_at: dt.datetime | None


PIDFILE_LIMIT = 64 * 1024
PIDFILE_DAMAGED = "damaged pidfile"
"""How a status detail about a pidfile that is not trusted begins."""


def _int_or_none(doc: dict[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"has no usable {key} ({value!r})")
    return value


def parse_pidfile(raw: bytes) -> PidRecord:
    """The record of a pidfile the supervisor wrote; ValueError says what is wrong."""
    if not raw.strip():
        raise ValueError("is empty")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("is not the JSON the supervisor writes") from None
    if not isinstance(doc, dict):
        raise ValueError("is not the JSON object the supervisor writes")
    pid = _int_or_none(doc, "pid")
    if pid is None or pid > 2**22:
        raise ValueError(f"has no usable pid ({doc.get('pid')!r})")
    ticks = _int_or_none(doc, "start_ticks")
    if ticks is None:
        raise ValueError("has no start time (start_ticks): its pid cannot be checked")
    started = doc.get("started_at")
    try:
        since = dt.datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        since = None
    return PidRecord(
        pid=pid,
        start_ticks=ticks,
        supervisor=_int_or_none(doc, "supervisor"),
        supervisor_start_ticks=_int_or_none(doc, "supervisor_start_ticks"),
        started_at=since,
    )


def tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a text file (empty if there is none)."""
    if path is None:
        return []
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


class ProcessBackend:
    """Start, stop and observe one component as a supervised child process."""

    kind = "process"

    def __init__(
        self,
        name: str,
        config: ComponentConfig,
        state_dir: Path,
        proc: Path = Path("/proc"),
        base_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.base_env = base_env or {}
        self.run_dir = state_dir / "run"
        self.proc = proc
        self.pidfile = self.run_dir / f"{name}.pid"
        self.exit_file = self.run_dir / f"{name}.exit"
        self.lock_file = self.run_dir / f"{name}.lock"
        self.log_file = config.log_file or state_dir / "log" / f"{name}.log"

    # -- files ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = floor.open_lock(self.lock_file, what=f"{self.name} lock")
        try:
            if not floor.flock_within(fd, LOCK_WAIT_S):
                raise floor.lock_busy(self.lock_file, f"{self.name} lock", LOCK_WAIT_S)
            yield
        finally:
            os.close(fd)

    def _read_pidfile(self) -> PidRecord | None:
        return self._pidfile()[0]

    def _pidfile(self) -> tuple[PidRecord | None, str | None]:
        """The pidfile's record, or (None, what is wrong with it); (None, None) when there is
        none. A damaged pidfile is never trusted."""
        from ncctl.errors import NcctlError
        from ncctl.statefile import file_kind, read_capped

        try:
            if file_kind(self.pidfile, "the pidfile") is None:
                return None, None
            raw = read_capped(
                self.pidfile, what="the pidfile", limit=PIDFILE_LIMIT, error=NcctlError
            )
        except NcctlError as err:
            return None, err.message.removeprefix(f"{self.pidfile}: ")
        try:
            return parse_pidfile(raw), None
        except ValueError as exc:
            return None, f"the pidfile {exc}"

    def _read_exit(self) -> int | None:
        try:
            code = json.loads(self.exit_file.read_text(encoding="utf-8")).get("exit_code")
        except (OSError, ValueError, AttributeError):
            return None
        return code if isinstance(code, int) else None

    def _is_ours(self, pid: int | None, ticks: int | None) -> bool:
        """True when ``pid`` is alive and started at ``ticks`` (not a recycled pid)."""
        if pid is None or ticks is None:
            return False
        stat = read_stat(pid, self.proc)
        return stat is not None and stat.alive and stat.start_ticks == ticks

    def _clean(self, *paths: Path) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    def _ready_paths(self) -> list[Path]:
        ready = self.config.ready
        if ready is not None and ready.kind in ("status_file", "file") and ready.path:
            return [ready.path]
        return []

    # -- status ---------------------------------------------------------------------------

    def status(self) -> ComponentStatus:
        rec, problem = self._pidfile()
        if problem is not None:
            return ComponentStatus(
                self.name,
                self.kind,
                "unknown",
                detail=f"{PIDFILE_DAMAGED} {self.pidfile}: {problem}; it is not trusted",
            )
        if rec is None:
            return ComponentStatus(self.name, self.kind, "stopped")
        if self._is_ours(rec.pid, rec.start_ticks):
            return ComponentStatus(
                self.name, self.kind, "running", pid=rec.pid, since=rec.started_at
            )
        code = self._read_exit()
        stat = read_stat(rec.pid, self.proc)
        detail = ""
        if stat is not None and stat.alive:
            detail = (
                f"{PIDFILE_DAMAGED} {self.pidfile}: pid {rec.pid} now belongs to another "
                "process; it is not trusted"
            )
        if code is None and self._is_ours(rec.supervisor, rec.supervisor_start_ticks):
            detail = detail or "the component has just ended"
        return ComponentStatus(
            self.name,
            self.kind,
            "crashed",
            pid=rec.pid,
            since=rec.started_at,
            exit_code=code,
            log_tail=tail(self.log_file),
            detail=detail or ("exit status unknown" if code is None else ""),
        )

    # -- start ----------------------------------------------------------------------------

    def argv(self) -> list[str]:
        """The configured command, with ``{python}`` standing for this Python interpreter."""
        return [sys.executable if a == PYTHON_PLACEHOLDER else a for a in self.config.command]

    def _check_command(self, argv: list[str]) -> None:
        exe = argv[0]
        cwd = self.config.cwd
        found = (
            shutil.which(exe)
            if "/" not in exe
            else (exe if os.access((cwd or Path()) / exe, os.X_OK) else None)
        )
        if not found:
            raise UnavailableError(
                f"components.{self.name}.command: {exe!r} is not an executable on PATH",
                hint="install it, or give its full path in the configuration",
                code="component.no_command",
            )

    def start(self) -> ActionResult:
        with self._locked():
            current = self.status()
            if current.running:
                return ActionResult(
                    self.name, "start", False, f"already running (pid {current.pid})", current
                )
            argv = self.argv()
            self._check_command(argv)
            self._clean(self.pidfile, self.exit_file, *self._ready_paths())
            try:
                self.log_file.parent.mkdir(parents=True, exist_ok=True)
                log = floor.open_file(self.log_file, "ab", what="component log", trusted_dir=False)
            except OSError as exc:
                raise CantCreateError(
                    f"{self.log_file}: cannot open the log file: {exc.strerror}",
                    hint=f"check components.{self.name}.log_file and its directory",
                ) from None
            env = {**os.environ, **self.base_env, **self.config.env}
            supervisor = [
                sys.executable,
                "-m",
                "ncctl.components.supervise",
                "--pidfile",
                str(self.pidfile.absolute()),
                "--exit-file",
                str(self.exit_file.absolute()),
                "--",
                *argv,
            ]
            with log:
                try:
                    first = subprocess.Popen(
                        supervisor,
                        cwd=self.config.cwd,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                except OSError as exc:
                    raise UnavailableError(
                        f"components.{self.name}: cannot start: {exc.strerror}",
                        hint=f"check components.{self.name}.cwd and command",
                    ) from None
                first.wait(timeout=30)  # the detaching parent exits at once
            self._await_ready()
            status = self.status()
            return ActionResult(self.name, "start", True, f"started (pid {status.pid})", status)

    def _await_ready(self) -> None:
        ready = self.config.ready
        timeout = ready.timeout_s if ready else 10.0
        deadline = time.monotonic() + timeout
        check = self._ready_check(ready)
        while True:
            rec = self._read_pidfile()
            exit_code = self._read_exit()
            if exit_code is not None or (
                rec is not None and not self._is_ours(rec.pid, rec.start_ticks)
            ):
                # the supervisor records the exit status right after the component ends
                wait_until(lambda: self._read_exit() is not None, 5.0)
                code = self._read_exit()
                self._clean(self.pidfile)
                raise ComponentFailed(
                    f"{self.name} died before it was ready"
                    + (f" (exit status {code})" if code is not None else ""),
                    hint=f"read its log: {self.log_file}",
                    log_tail=tail(self.log_file),
                )
            if rec is not None and check():
                return
            if time.monotonic() >= deadline:
                self._terminate(rec, timeout_s=self.config.stop_timeout_s)
                self._clean(self.pidfile, self.exit_file)
                raise ComponentFailed(
                    f"{self.name} was not ready after {timeout:g} s; it was stopped",
                    hint=f"read its log: {self.log_file}; or raise "
                    f"components.{self.name}.ready.timeout_s",
                    log_tail=tail(self.log_file),
                )
            time.sleep(POLL_S)

    def _ready_check(self, ready: ReadyCheck | None) -> Callable[[], bool]:
        if ready is None:
            return lambda: True
        if ready.kind == "tcp_port":
            port = ready.port or 0

            def accepting() -> bool:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        return True
                except OSError:
                    return False

            return accepting
        path = ready.path or Path()
        if ready.kind == "status_file":
            return lambda: path.is_file() and path.stat().st_size > 0
        return path.exists

    # -- stop -----------------------------------------------------------------------------

    def _terminate(self, rec: PidRecord | None, timeout_s: float) -> str:
        """SIGTERM, wait, then SIGKILL; wait for the supervisor to record the exit."""
        if rec is None or not self._is_ours(rec.pid, rec.start_ticks):
            return "not running"
        how = "stopped with SIGTERM"
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, signal.SIGTERM)
        if not wait_until(lambda: not self._is_ours(rec.pid, rec.start_ticks), timeout_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(rec.pid, signal.SIGKILL)
            how = f"killed with SIGKILL: still running {timeout_s:g} s after SIGTERM"
            wait_until(lambda: not self._is_ours(rec.pid, rec.start_ticks), 10.0)
        # the supervisor reaps the component and writes its exit status, then ends
        wait_until(lambda: not self._is_ours(rec.supervisor, rec.supervisor_start_ticks), 10.0)
        return how

    def stop(self) -> ActionResult:
        with self._locked():
            rec = self._read_pidfile()
            if rec is None or not self._is_ours(rec.pid, rec.start_ticks):
                before = self.status()
                self._clean(self.pidfile, self.exit_file, *self._ready_paths())
                message = "already stopped"
                if before.state == "unknown":
                    message = f"{before.detail}; it is removed"
                elif before.state == "crashed":
                    message = "not running (it had ended" + (
                        f" with exit status {before.exit_code})"
                        if before.exit_code is not None
                        else ")"
                    )
                return ActionResult(
                    self.name,
                    "stop",
                    False,
                    message,
                    ComponentStatus(self.name, self.kind, "stopped"),
                )
            how = self._terminate(rec, self.config.stop_timeout_s)
            code = self._read_exit()
            self._clean(self.pidfile, self.exit_file, *self._ready_paths())
            message = how + (f" (exit status {code})" if code is not None else "")
            return ActionResult(
                self.name, "stop", True, message, ComponentStatus(self.name, self.kind, "stopped")
            )

    # -- reopen ---------------------------------------------------------------------------

    def reopen(self) -> bool:
        """Send SIGHUP to the component (it reopens its files); False when it is not running."""
        rec = self._read_pidfile()
        if rec is None or not self._is_ours(rec.pid, rec.start_ticks):
            return False
        try:
            os.kill(rec.pid, signal.SIGHUP)
        except ProcessLookupError:
            return False
        return True
