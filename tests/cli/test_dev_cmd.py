"""``ncctl dev up|down|status``: the CME gateway simulator of a dev configuration, by hand.

Real processes throughout: the installed ``ncctl`` script, the supervisor and the simulator,
on a free port of 127.0.0.1 written into a copy of configs/dev.toml; ``ncctl party register``
talks to it over iLink 3.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ncctl.components.procfs import read_stat
from tests.cli.conftest import DEV_SECRET, DEV_TOML
from tests.helpers import NCCTL_BIN, Outcome, run_process, wait_for

pytestmark = pytest.mark.slow

STOP_WAIT_S = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_config(directory: Path, *, port: int, replace: tuple[str, str] | None = None) -> Path:
    """configs/dev.toml with ilink.port = ``port`` (and one more text replacement)."""
    text = DEV_TOML.read_text(encoding="utf-8").replace("port = 29000", f"port = {port}")
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    path = directory / "dev.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


class Dev:
    """``ncctl --config CONFIG dev …`` as real processes in ``cwd``."""

    def __init__(self, config: Path, cwd: Path) -> None:
        self.config = config
        self.cwd = cwd

    def __call__(self, *argv: str) -> Outcome:
        return run_process("--config", self.config, *argv, cwd=self.cwd)

    @property
    def state_dir(self) -> Path:
        """configs/dev.toml says ``state_dir = "."``: the directory of the file."""
        return self.config.parent

    def state(self) -> str:
        data = self("dev", "status", "--json").doc()["data"]
        assert isinstance(data, dict)
        return str(data["state"])


@pytest.fixture
def dev(isolated_cwd: Path, tmp_path: Path) -> Iterator[Dev]:
    """A dev configuration on a free port; whatever it started is stopped afterwards."""
    runner = Dev(dev_config(tmp_path, port=free_port()), isolated_cwd)
    yield runner
    runner("dev", "down")
    assert runner.state() == "stopped"


def test_up_status_register_down(dev: Dev, isolated_cwd: Path) -> None:
    assert dev.state() == "stopped"
    unreachable = dev("party", "list", "--json")
    assert unreachable.code == 69
    assert "`ncctl dev up`" in unreachable.error()["hint"]
    up = dev("dev", "up", "--json").data()
    assert up["changed"] is True and up["status"]["state"] == "running"
    pid = up["status"]["pid"]
    port = int(dev.config.read_text().split("port = ")[1].split()[0])
    assert up["status"]["address"] == f"127.0.0.1:{port}"
    again = dev("dev", "up")
    assert again.code == 0
    assert "already running" in again.out and f"pid {pid}" in again.out
    status = dev("dev", "status", "--json").data()
    assert (status["state"], status["pid"]) == ("running", pid)
    # the secret reaches the simulator through its environment, never its command line
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    assert DEV_SECRET not in cmdline and DEV_SECRET not in json.dumps(status)
    registered = dev("party", "register", "--json")
    assert registered.code == 0, registered.err
    # relative paths of a configuration file are taken from its directory
    gateway = json.loads((dev.state_dir / "run" / "cme_gateway.json").read_text())
    assert [r["id"] for r in gateway["registrations"]] == [1001]
    down = dev("dev", "down", "--json").data()
    assert down["changed"] is True
    gone = read_stat(pid)
    assert gone is None or not gone.alive
    assert dev("dev", "down", "--json").data()["changed"] is False


def test_two_ups_at_once_start_one(dev: Dev) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: dev("dev", "up", "--json").data(), range(2)))
    assert sorted(r["changed"] for r in results) == [False, True]
    assert len({r["status"]["pid"] for r in results}) == 1


def test_a_pidfile_is_never_trusted(dev: Dev, isolated_cwd: Path) -> None:
    """A pidfile naming a live process that is not the simulator: not running, and down
    leaves that process alone."""
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        stat = read_stat(bystander.pid)
        assert stat is not None
        run_dir = dev.state_dir / "run"
        run_dir.mkdir(parents=True)
        (run_dir / "cme_gateway.pid").write_text(
            json.dumps({"pid": bystander.pid, "start_ticks": stat.start_ticks})
        )
        assert dev.state() != "running"
        dev("dev", "down")
        assert bystander.poll() is None
        up = dev("dev", "up", "--json").data()
        assert up["changed"] is True and up["status"]["pid"] != bystander.pid
    finally:
        bystander.kill()
        bystander.wait(timeout=10)


def test_a_taken_port_fails_cleanly(dev: Dev) -> None:
    port = int(dev.config.read_text().split("port = ")[1].split()[0])
    with socket.create_server(("127.0.0.1", port)):
        failed = dev("dev", "up", "--json")
        err = failed.error()
        assert failed.code == 69
        assert "log" in err["hint"]
    assert dev.state() == "stopped"


@pytest.mark.parametrize(
    ("replace", "code", "error_code"),
    [
        (('environment = "dev"', 'environment = "staging"'), 1, "dev.not_dev"),
        (('host = "127.0.0.1"', 'host = "192.0.2.10"'), 78, "dev.not_loopback"),
        (("secret_key = ", "# secret_key = "), 78, "ilink.credentials"),
    ],
    ids=["staging", "not-loopback", "no-secret"],
)
def test_refused_outside_a_dev_setup(
    isolated_cwd: Path,
    tmp_path: Path,
    replace: tuple[str, str],
    code: int,
    error_code: str,
) -> None:
    config = dev_config(tmp_path, port=free_port(), replace=replace)
    for argv in (("dev", "up"), ("dev", "up", "--foreground"), ("dev", "status")):
        result = run_process("--config", config, *argv, "--json", cwd=isolated_cwd)
        err = result.error()
        assert (result.code, err["code"]) == (code, error_code), result
    assert list(isolated_cwd.iterdir()) == []  # nothing made, nothing started


def test_foreground_until_sigterm(dev: Dev) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NCCTL_CONFIG", "NCCTL_ENV")}
    proc = subprocess.Popen(
        [str(NCCTL_BIN), "--config", str(dev.config), "dev", "up", "--foreground", "--json"],
        cwd=dev.cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: dev.state() == "running", 20.0, "the dev environment running")
        second = dev("dev", "up", "--json").data()
        assert second["changed"] is False
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=STOP_WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    assert doc["ok"] is True and doc["data"]["status"]["exit_code"] == 0
    assert b"ready: listening" in err
    assert dev.state() == "stopped"
