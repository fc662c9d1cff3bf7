"""The CME gateway simulator of a development configuration, run by hand (``ncctl dev``).

The gateway simulator (``python -m ncctl.sim.cme_gateway``, never imported) listens on
``ilink.host:ilink.port`` of the configuration with its ``[ilink]`` credentials, so that
``ncctl party register`` and the order-session simulator reach it as they would reach CME. It
runs like a component of the process backend, under the same supervisor and with the same files
under ``state_dir/run`` (``cme_gateway.instance.lock``, ``.pid``, ``.exit``, ``.lock``): which
instance runs is asked of the kernel's lock table and checked by pid and start time, never
taken from the pidfile, so there is never a second one. Its log is
``state_dir/log/cme_gateway.log`` and its state (registrations, counters)
``state_dir/run/cme_gateway.json``.

Only a ``dev`` configuration whose ``ilink.host`` is a loopback address gets a simulator: a
staging or production configuration talks to CME itself.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from ncctl.addresses import is_loopback
from ncctl.appconfig.model import NcctlConfig
from ncctl.components.backend import ActionResult, ComponentStatus
from ncctl.components.process import (
    LAUNCH_TIMEOUT_S,
    SUPERVISOR_MODULE,
    ComponentFailed,
    ProcessBackend,
)
from ncctl.components.section import ComponentConfig, ReadyCheck
from ncctl.errors import ConfigError, RefusedError
from ncctl.floor import wait_until
from ncctl.ilink.section import IlinkConfig

NAME = "cme_gateway"
SIMULATOR_MODULE = "ncctl.sim.cme_gateway"
SECRET_ENV = "NCCTL_DEV_GATEWAY_SECRET"  # noqa: S105 - the name of a variable
"""How the inline ``ilink.secret_key`` reaches the simulator (never on its command line)."""
READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0


def gateway_command(
    ilink: IlinkConfig,
    *,
    host: str,
    port: int,
    secret: list[str],
    ready_file: Path,
    state_file: Path,
) -> list[str]:
    """The command that runs the gateway simulator (:mod:`ncctl.sim.cme_gateway`) for the
    ``[ilink]`` settings ``ilink``, listening on ``host:port``, with ``secret``
    (``--secret-env NAME`` or ``--secret-file PATH``)."""
    return [
        sys.executable,
        "-m",
        SIMULATOR_MODULE,
        "--host",
        host,
        "--port",
        str(port),
        *secret,
        "--access-key-id",
        ilink.access_key_id,
        "--session",
        ilink.session,
        "--firm",
        ilink.firm,
        "--ready-file",
        str(ready_file),
        "--state-file",
        str(state_file),
    ]


def require_dev(config: NcctlConfig, source: Path) -> None:
    """Refuse a configuration that is not for development (exit 1), or whose gateway is not
    on this machine (exit 78)."""
    if config.environment != "dev":
        raise RefusedError(
            f"{source}: environment is {config.environment!r}: the simulators are for a dev "
            "configuration only (this one talks to CME itself)",
            hint="pass a dev configuration with --config (`ncctl config init --env dev --dir "
            "DIR` writes one)",
            code="dev.not_dev",
        )
    if not is_loopback(config.ilink.host):
        raise ConfigError(
            f"{source}: ilink.host = {config.ilink.host!r} is not a loopback address: the "
            "gateway simulator listens on this machine only",
            hint=f'set ilink.host = "127.0.0.1" in {source}',
            code="dev.not_loopback",
        )


def _secret_args(config: NcctlConfig) -> tuple[list[str], dict[str, str]]:
    """The simulator's secret options and environment (the secret checked first, exit 78)."""
    from ncctl.ilink.party_inputs import credentials_for

    ilink = config.ilink
    credentials_for(ilink)  # a missing or malformed secret fails here, by name
    if ilink.secret_key_file is not None:
        return ["--secret-file", str(ilink.secret_key_file.absolute())], {}
    assert ilink.secret_key is not None  # credentials_for needs one of the two
    return ["--secret-env", SECRET_ENV], {SECRET_ENV: ilink.secret_key.get_secret_value()}


class GatewayBackend(ProcessBackend):
    """The gateway simulator of ``config`` as a supervised process (see the module)."""

    def __init__(self, config: NcctlConfig, proc: Path = Path("/proc")) -> None:
        state_dir = Path(config.state_dir).absolute()
        run_dir = state_dir / "run"
        self.ready_file = run_dir / f"{NAME}.ready"
        self.state_file = run_dir / f"{NAME}.json"
        self.address = f"{config.ilink.host}:{config.ilink.port}"
        secret_args, env = _secret_args(config)
        command = gateway_command(
            config.ilink,
            host=config.ilink.host,
            port=config.ilink.port,
            secret=secret_args,
            ready_file=self.ready_file,
            state_file=self.state_file,
        )
        component = ComponentConfig(
            command=command,
            env=env,
            log_file=state_dir / "log" / f"{NAME}.log",
            stop_timeout_s=STOP_TIMEOUT_S,
            ready=ReadyCheck(kind="file", path=self.ready_file, timeout_s=READY_TIMEOUT_S),
        )
        super().__init__(NAME, component, state_dir, proc)

    def describe(self, status: ComponentStatus) -> dict[str, Any]:
        """The status as ``ncctl dev status`` shows it: where it listens, and its files."""
        return {
            **status.as_dict(),
            "address": self.address,
            "log_file": str(self.log_file),
            "state_file": str(self.state_file),
        }

    def run_foreground(self, on_ready: Callable[[ActionResult], None]) -> ActionResult:
        """Run the simulator attached to this terminal (its log on standard error) until it
        ends or this process gets SIGINT/SIGTERM/SIGHUP (passed on to it); ``on_ready`` is
        called once it listens. A second instance is not started: the running one is named."""
        with self._locked():
            if self._instance() is not None:
                return self._already_running()
            if foreign := self._lock_holders():
                raise self._held_by(foreign)
            self._clean(self.pidfile, self.exit_file, *self._ready_paths(), strict=True)
            child = self._spawn_attached()
            wait_until(lambda: self._instance() is not None or child.poll() is not None, 10.0)
        with _forwarding(child):
            listening = wait_until(
                lambda: self.ready_file.exists() or child.poll() is not None, READY_TIMEOUT_S
            )
            if listening and child.poll() is None:
                status = self.status()
                on_ready(ActionResult(self.name, "start", True, "listening", status))
            child.wait()
        code = self._read_exit()
        self._clean(self.pidfile, self.exit_file, *self._ready_paths())
        if code not in (0, None, -signal.SIGTERM, -signal.SIGINT):
            raise ComponentFailed(
                f"the gateway simulator on {self.address} ended with exit status {code}",
                hint="read the lines above (is the port taken? `ss -ltnp` names the owner)",
                log_tail=[],
            )
        stopped = ComponentStatus(self.name, self.kind, "stopped", exit_code=code)
        return ActionResult(self.name, "stop", True, f"ended (exit status {code})", stopped)

    def _spawn_attached(self) -> subprocess.Popen[bytes]:
        """The supervisor, not detached, holding the instance lock, output on stderr."""
        import os

        from ncctl.locks import open_lock_file

        lock_fd = open_lock_file(self.instance_lock)
        try:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    SUPERVISOR_MODULE,
                    "--pidfile",
                    str(self.pidfile),
                    "--exit-file",
                    str(self.exit_file),
                    "--lock-fd",
                    str(lock_fd),
                    "--no-detach",
                    "--",
                    *self.argv(),
                ],
                env={**os.environ, **self.config.env},
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno(),
                stderr=subprocess.STDOUT,
                pass_fds=(lock_fd,),
            )
        finally:
            os.close(lock_fd)


@contextlib.contextmanager
def _forwarding(child: subprocess.Popen[bytes]) -> Iterator[None]:
    """Pass SIGINT, SIGTERM and SIGHUP on to ``child`` (as SIGTERM) while the block runs."""

    def forward(_signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, forward) for sig in signals}
    try:
        yield
    finally:
        if child.poll() is None:  # an error in the block: the simulator goes with it
            child.terminate()
            try:
                child.wait(timeout=LAUNCH_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
