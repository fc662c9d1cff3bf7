"""The process backend: components run as detached child processes (containers, laptops).

Files, under ``RUN_DIR`` (``state_dir/run``) for component NAME:

* ``NAME.instance.lock`` - the instance lock: the supervisor holds an exclusive ``flock`` on
  it for the component's whole life. Which instance is running (if any) is always asked of the
  kernel: the holder of that lock in /proc/locks is the supervisor, its live child is the
  component, and both are identified by pid and start time (field 22 of /proc/PID/stat). So a
  lost, empty, garbage or stale pidfile never leads to a second instance or an orphan;
* ``NAME.pid``  - written by the supervisor: the component's pid and start time, and its own.
  For people and other tools only: ncctl warns when it is damaged or disagrees, never trusts it;
* ``NAME.exit`` - written by the supervisor when the component ends: its exit status;
* ``NAME.lock`` - held (flock) while starting or stopping, so that two concurrent ``start``
  calls start exactly one process.

Lock files are created by ncctl, mode 0600, never opened through a symbolic link.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ncctl import floor
from ncctl.components.backend import ActionResult, ComponentStatus
from ncctl.components.pidfile import (
    PIDFILE_DAMAGED,
    Instance,
    PidRecord,
    pidfile_warning,
    read_exit_code,
    read_pidfile,
    recorded_child,
    tail,
)
from ncctl.components.procfs import (
    ProcStat,
    alive_children,
    cmdline,
    flock_holders,
    pids,
    read_stat,
    started_at,
)
from ncctl.components.section import ComponentConfig, ReadyCheck
from ncctl.errors import CantCreateError, UnavailableError
from ncctl.floor import wait_until

__all__ = ["wait_until"]  # for the callers that still import it from here

POLL_S = 0.02
READY_POLL_S = 0.05
LAUNCH_TIMEOUT_S = 30.0
SUPERVISOR_GRACE_S = 10.0
EXIT_BUSY = 75
SUPERVISOR_MODULE = "ncctl.components.supervise"
"""The supervisor's verdict when another instance holds the instance lock."""
LOCK_WAIT_S = 30.0
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
        self.instance_lock = self.run_dir / f"{name}.instance.lock"
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

    def _lock_holders(self) -> list[int]:
        """Who holds the instance lock, by the kernel's lock table."""
        path = Path(os.path.realpath(self.run_dir)) / self.instance_lock.name
        return flock_holders(path, self.proc)

    def _is_supervisor(self, pid: int) -> bool:
        return cmdline(pid, self.proc)[1:3] == ["-m", SUPERVISOR_MODULE]

    def _legacy_supervisors(self) -> list[int]:
        """Supervisors of this component started before there was an instance lock (by an
        older ncctl, before an upgrade): found by their command line, never by the pidfile."""
        mine = ["--pidfile", str(self.pidfile.absolute())]
        found: list[int] = []
        for pid in pids(self.proc):
            argv = cmdline(pid, self.proc)
            own = argv[: argv.index("--")] if "--" in argv else argv  # not the component's
            ours = any(own[i : i + 2] == mine for i in range(3, len(own)))
            if own[1:3] == ["-m", SUPERVISOR_MODULE] and "--lock-fd" not in own and ours:
                found.append(pid)
        return found

    def _component_of(self, supervisor: int) -> ProcStat | None:
        """The live child of ``supervisor``: the one it recorded in the instance lock file if
        /proc confirms it, else the first one /proc lists."""
        child = recorded_child(self.instance_lock, supervisor, self.proc)
        children = [child] if child else alive_children(supervisor, self.proc)
        return children[0] if children else None

    def _instance(self) -> Instance | None:
        """The running instance: the live ncctl supervisor holding the instance lock (or, for
        one started by an older ncctl, running for this pidfile) and its child."""
        holders = [h for h in self._lock_holders() if self._is_supervisor(h)]
        for holder in holders or self._legacy_supervisors():
            supervisor = read_stat(holder, self.proc)
            if supervisor is None or not supervisor.alive:
                continue
            child = self._component_of(holder)
            return Instance(
                supervisor=holder,
                supervisor_start_ticks=supervisor.start_ticks,
                pid=child.pid if child else None,
                start_ticks=child.start_ticks if child else None,
                since=started_at(child.start_ticks, self.proc) if child else None,
            )
        return None

    def _pidfile(self) -> tuple[PidRecord | None, str | None]:
        return read_pidfile(self.pidfile)

    def _read_exit(self) -> int | None:
        return read_exit_code(self.exit_file)

    def _is_ours(self, pid: int | None, ticks: int | None) -> bool:
        """True when ``pid`` is alive and started at ``ticks`` (not a recycled pid)."""
        if pid is None or ticks is None:
            return False
        stat = read_stat(pid, self.proc)
        return stat is not None and stat.alive and stat.start_ticks == ticks

    def _clean(self, *paths: Path, strict: bool = False) -> None:
        """Remove these files (a link is removed, never followed). What cannot be removed (a
        directory put there, say) is left; ``strict``: CantCreateError naming it."""
        for path in paths:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                if strict:
                    raise CantCreateError(
                        f"{path}: cannot remove it before starting: {exc.strerror}",
                        hint=f"remove {path} by hand (ncctl writes that file itself)",
                    ) from None

    def _ready_paths(self) -> list[Path]:
        ready = self.config.ready
        if ready is not None and ready.kind in ("status_file", "file") and ready.path:
            return [ready.path]
        return []

    # -- status ---------------------------------------------------------------------------

    def status(self) -> ComponentStatus:
        inst = self._instance()
        rec, problem = self._pidfile()
        warning = pidfile_warning(self.pidfile, self.proc, inst, rec, problem)
        code = self._read_exit()
        if inst is not None and inst.pid is not None:
            return ComponentStatus(
                self.name, self.kind, "running", pid=inst.pid, since=inst.since, detail=warning
            )
        if inst is not None and code is None:
            return ComponentStatus(
                self.name,
                self.kind,
                "unknown",
                detail=warning
                or f"its supervisor (pid {inst.supervisor}) holds the instance lock but runs "
                "no component",
            )
        if code is None and rec is None:
            return ComponentStatus(self.name, self.kind, "stopped", detail=warning)
        detail = "the component has just ended" if inst is not None else ""
        return ComponentStatus(
            self.name,
            self.kind,
            "crashed",
            pid=rec.pid if rec else None,
            since=rec.started_at if rec else None,
            exit_code=code,
            log_tail=tail(self.log_file),
            detail=warning or detail or ("exit status unknown" if code is None else ""),
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

    def _already_running(self) -> ActionResult:
        current = self.status()
        inst = self._instance()
        pid = current.pid or (inst.supervisor if inst else None)
        return ActionResult(self.name, "start", False, f"already running (pid {pid})", current)

    def _held_by(self, holders: list[int]) -> UnavailableError:
        """The failure of a start while the instance lock is held by no ncctl supervisor."""
        who = ", ".join(f"pid {h} ({' '.join(cmdline(h, self.proc))[:100]})" for h in holders)
        return UnavailableError(
            f"{self.instance_lock}: the instance lock is held by "
            f"{who or 'another process'}, not by an ncctl supervisor",
            hint="find out what that process is and end it; then start again",
            code="component.lock_held",
        )

    def start(self) -> ActionResult:
        with self._locked():
            if self._instance() is not None:
                return self._already_running()
            if foreign := self._lock_holders():
                raise self._held_by(foreign)
            argv = self.argv()
            self._check_command(argv)
            self._clean(self.pidfile, self.exit_file, *self._ready_paths(), strict=True)
            try:
                self.log_file.parent.mkdir(parents=True, exist_ok=True)
                log = floor.open_file(self.log_file, "ab", what="component log", trusted_dir=False)
            except OSError as exc:
                raise CantCreateError(
                    f"{self.log_file}: cannot open the log file: {exc.strerror}",
                    hint=f"check components.{self.name}.log_file and its directory",
                ) from None
            with log:
                verdict = self._launch(argv, log.fileno())
            if verdict == EXIT_BUSY:
                # an instance started outside this lock got there first, or the lock is held
                # by something that is not an ncctl supervisor
                if wait_until(lambda: self._instance() is not None, 2.0):
                    return self._already_running()
                raise self._held_by(self._lock_holders())
            if verdict != 0:
                raise ComponentFailed(
                    f"{self.name}: its supervisor ended before it started the component "
                    f"(exit status {verdict})",
                    hint=f"read its log: {self.log_file}",
                    log_tail=tail(self.log_file),
                )
            self._await_ready()
            status = self.status()
            return ActionResult(self.name, "start", True, f"started (pid {status.pid})", status)

    def _launch(self, argv: list[str], log_fd: int) -> int:
        """Start the supervisor, handing it the opened instance lock file; its verdict."""
        from ncctl.locks import open_lock_file

        lock_fd = open_lock_file(self.instance_lock)
        supervisor = [
            sys.executable,
            "-m",
            SUPERVISOR_MODULE,
            "--pidfile",
            str(self.pidfile.absolute()),
            "--exit-file",
            str(self.exit_file.absolute()),
            "--lock-fd",
            str(lock_fd),
            "--",
            *argv,
        ]
        try:
            first = subprocess.Popen(
                supervisor,
                cwd=self.config.cwd,
                env={**os.environ, **self.base_env, **self.config.env},
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(lock_fd,),
            )
        except OSError as exc:
            raise UnavailableError(
                f"components.{self.name}: cannot start: {exc.strerror}",
                hint=f"check components.{self.name}.cwd and command",
            ) from None
        finally:
            os.close(lock_fd)
        try:
            # the first process exits once the supervisor holds the lock and started the component
            return first.wait(timeout=LAUNCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait(timeout=5)
            raise UnavailableError(
                f"{self.name}: its supervisor did not report within {LAUNCH_TIMEOUT_S:g} s",
                hint=f"read its log: {self.log_file}; then `ncctl` status",
            ) from None

    def _await_ready(self) -> None:
        ready = self.config.ready
        timeout = ready.timeout_s if ready else 10.0
        check = self._ready_check(ready)
        last: list[Instance | None] = [None]

        def gone() -> bool:
            return self._read_exit() is not None or last[0] is None

        def settled() -> bool:  # ready, or gone before it was
            last[0] = self._instance()
            inst = last[0]
            return gone() or (inst is not None and inst.pid is not None and check())

        wait_until(settled, timeout, READY_POLL_S)
        inst = last[0]
        if gone() or inst is None:
            # the supervisor records the exit status right after the component ends,
            # then ends itself
            wait_until(lambda: self._read_exit() is not None and self._instance() is None, 5.0)
            code = self._read_exit()
            self._clean(self.pidfile, self.exit_file)  # the failure reports the status
            raise ComponentFailed(
                f"{self.name} died before it was ready"
                + (f" (exit status {code})" if code is not None else ""),
                hint=f"read its log: {self.log_file}",
                log_tail=tail(self.log_file),
            )
        if inst.pid is not None and check():
            return
        self._terminate(inst, timeout_s=self.config.stop_timeout_s)
        self._clean(self.pidfile, self.exit_file)
        raise ComponentFailed(
            f"{self.name} was not ready after {timeout:g} s; it was stopped",
            hint=f"read its log: {self.log_file}; or raise components.{self.name}.ready.timeout_s",
            log_tail=tail(self.log_file),
        )

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

    def _signal(self, pid: int | None, ticks: int | None, sig: signal.Signals) -> None:
        """Send ``sig`` to ``pid`` if it is still the process that started at ``ticks``."""
        if pid is not None and self._is_ours(pid, ticks):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _terminate(self, inst: Instance, timeout_s: float) -> str:
        """SIGTERM, wait, then SIGKILL; wait for the supervisor to record the exit and end."""
        how = "stopped with SIGTERM"

        def gone() -> bool:
            return not self._is_ours(inst.pid, inst.start_ticks)

        if inst.pid is None:
            how = f"stopped its supervisor (pid {inst.supervisor}), which ran no component"
        else:
            self._signal(inst.pid, inst.start_ticks, signal.SIGTERM)
            if not wait_until(gone, timeout_s):
                self._signal(inst.pid, inst.start_ticks, signal.SIGKILL)
                how = f"killed with SIGKILL: still running {timeout_s:g} s after SIGTERM"
                wait_until(gone, 10.0)

        # the supervisor reaps the component, writes its exit status, then ends (and so
        # releases the instance lock); one that does not is killed
        def released() -> bool:
            return not self._is_ours(inst.supervisor, inst.supervisor_start_ticks)

        if not wait_until(released, SUPERVISOR_GRACE_S):
            self._signal(inst.supervisor, inst.supervisor_start_ticks, signal.SIGKILL)
            wait_until(released, 10.0)
        return how

    def stop(self) -> ActionResult:
        with self._locked():
            inst = self._instance()
            if inst is None:
                before = self.status()
                self._clean(self.pidfile, self.exit_file, *self._ready_paths())
                message = "already stopped"
                if before.detail.startswith(PIDFILE_DAMAGED):
                    left = os.path.lexists(self.pidfile)
                    done = "it could not be removed" if left else "it is removed"
                    message = f"not running ({before.detail}; {done})"
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
            how = self._terminate(inst, self.config.stop_timeout_s)
            code = self._read_exit()
            self._clean(self.pidfile, self.exit_file, *self._ready_paths())
            message = how + (f" (exit status {code})" if code is not None else "")
            return ActionResult(
                self.name, "stop", True, message, ComponentStatus(self.name, self.kind, "stopped")
            )

    # -- reopen ---------------------------------------------------------------------------

    def reopen(self) -> bool:
        """Send SIGHUP to the component (it reopens its files); False when it is not running."""
        inst = self._instance()
        if inst is None or inst.pid is None or not self._is_ours(inst.pid, inst.start_ticks):
            return False
        try:
            os.kill(inst.pid, signal.SIGHUP)
        except ProcessLookupError:
            return False
        return True
