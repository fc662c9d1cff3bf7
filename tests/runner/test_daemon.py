"""`ncctl scheduler run` as a real process: sd_notify READY/WATCHDOG/STOPPING, clean SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import ncctl_command, run_process
from tests.logs.helpers import write_config

pytestmark = pytest.mark.slow

SLEEP = '["{python}", "-m", "ncctl.sim.idle"]'  # a simulator: a development setup


def receive(sock: socket.socket, wanted: str, timeout_s: float) -> list[str]:
    """Datagrams until one equals ``wanted`` (bounded by ``timeout_s``)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if got[-1] == wanted:
            return got
    raise AssertionError(f"no {wanted!r} within {timeout_s} s; got {got}")


@pytest.fixture
def notify_socket(tmp_path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    return sock


EXTRA = (
    f"[components.feed_handler]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
    f"[components.order_session]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
    "[runner]\nreconcile_interval_s = 1.0\n"
    "[metrics]\nport = 0\n"  # any free loopback port
)


class Daemon:
    """`ncctl scheduler run` as a real process with a notify socket and a 10 s watchdog;
    its stderr lines are collected by a thread."""

    def __init__(self, tmp_path: Path) -> None:
        self.config = write_config(tmp_path, extra=EXTRA)
        self.state_dir = tmp_path / "state"
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
            "WATCHDOG_USEC": "10000000",
        }
        env.pop("WATCHDOG_PID", None)
        self.proc = subprocess.Popen(
            ncctl_command("--config", self.config, "scheduler", "run"),
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        stderr = self.proc.stderr
        assert stderr is not None
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(stderr.readline, "")))
        self.reader.start()

    def terminate(self, sock: socket.socket) -> tuple[list[dict[str, Any]], list[str]]:
        """SIGTERM, STOPPING=1, a clean exit: the daemon's log records, and every datagram
        received from the call on."""
        self.proc.send_signal(signal.SIGTERM)
        got = receive(sock, "STOPPING=1", 30)
        self.proc.wait(timeout=60)
        self.reader.join(timeout=10)
        err = "".join(self.lines)
        assert self.proc.returncode == 0, err
        got += drain(sock)
        return [json.loads(line) for line in err.splitlines() if line.startswith("{")], got

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        for group in ("session", "feed"):
            run_process(
                *("--config", self.config, group, "stop", "--force", "--reason", "test teardown"),
                cwd=self.config.parent,
            )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with contextlib.closing(Daemon(tmp_path)) as started:
        yield started


def test_ready_watchdog_stopping_and_a_clean_exit(
    daemon: Daemon, notify_socket: socket.socket
) -> None:
    assert receive(notify_socket, "READY=1", 30)[-1] == "READY=1"
    assert receive(notify_socket, "WATCHDOG=1", 10)[-1] == "WATCHDOG=1"
    # the daemon serves /metrics on loopback: scrape and parse it
    [url] = [json.loads(x)["url"] for x in list(daemon.lines) if '"event": "metrics"' in x]
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"ncctl_component_desired", "ncctl_schedule_feed_handler"} <= names
    records, _ = daemon.terminate(notify_socket)
    events = [r["event"] for r in records]
    assert events[:2] == ["metrics", "started"] and events[-1] == "stopped"
    # after "stopping" the scheduler waits for a pass already under way: only passes may follow
    assert set(events[events.index("stopping") + 1 : -1]) <= {"pass", "pass_failed"}, events
    assert "pass" in events  # the catch-up pass at start is logged
    assert records[1]["watchdog_s"] == 10.0


def test_a_hung_pass_starves_the_watchdog(daemon: Daemon, notify_socket: socket.socket) -> None:
    """WATCHDOG=1 comes from finished passes only: while a pass hangs (here: waiting for the
    runner lock, held by this test) none is sent, however long; when it ends, one is."""
    from ncctl.locks import hold

    got = receive(notify_socket, "READY=1", 30)
    got += receive(notify_socket, "WATCHDOG=1", 10)
    got += receive(notify_socket, "WATCHDOG=1", 10)  # passes run every second
    with hold(daemon.state_dir, "runner", 30.0, "test: a pass that hangs"):
        # the pass that held the lock just before may still report; then silence for more
        # than three reconcile intervals, though the daemon is alive and its timers fire
        during = silence(notify_socket, 3.5)
        assert during.count("WATCHDOG=1") <= 1, during
        assert daemon.proc.poll() is None
        got += during
    got += receive(notify_socket, "WATCHDOG=1", 30)  # the hung pass ends: fed again
    records, last = daemon.terminate(notify_socket)
    got += last
    stopped = records[-1]
    assert stopped["event"] == "stopped"
    # one WATCHDOG=1 per finished pass, none from anywhere else
    assert got.count("WATCHDOG=1") == stopped["passes"] + stopped["failed"]
    assert set(got) == {"READY=1", "WATCHDOG=1", "STOPPING=1"}


def silence(sock: socket.socket, seconds: float) -> list[str]:
    """Every datagram within ``seconds`` (bounded: stops at the deadline)."""
    got: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return got


def drain(sock: socket.socket) -> list[str]:
    """The datagrams already queued on ``sock``."""
    got: list[str] = []
    sock.setblocking(False)
    for _ in range(10_000):
        try:
            got.append(sock.recv(4096).decode())
        except BlockingIOError:
            break
    return got


def test_the_daemon_refuses_a_simulated_clock(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = run_process(
        "--config", config, "--clock", "2026-11-25T10:00", "scheduler", "run", cwd=config.parent
    )
    assert done.code == 64 and "ncctl demo" in done.err
