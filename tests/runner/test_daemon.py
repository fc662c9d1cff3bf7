"""`ncctl scheduler run` as a real process: sd_notify READY/WATCHDOG/STOPPING, clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.logs.helpers import NCCTL, write_config

SLEEP = '["{python}", "-c", "import time; time.sleep(300)"]'


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


def test_ready_watchdog_stopping_and_a_clean_exit(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    extra = (
        f"[components.feed_handler]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
        f"[components.order_session]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
        "[runner]\nreconcile_interval_s = 1.0\n"
        "[metrics]\nport = 0\n"  # any free loopback port
    )
    config = write_config(tmp_path, extra=extra)
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "WATCHDOG_USEC": "1000000",  # 1 s: a WATCHDOG=1 every 0.5 s
    }
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(
        [NCCTL, "--config", str(config), "scheduler", "run"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    stderr = proc.stderr
    assert stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stderr.readline, "")))
    reader.start()
    try:
        assert receive(notify_socket, "READY=1", 30)[-1] == "READY=1"
        assert receive(notify_socket, "WATCHDOG=1", 5)[-1] == "WATCHDOG=1"
        # the daemon serves /metrics on loopback: scrape and parse it
        [url] = [json.loads(x)["url"] for x in list(lines) if '"event": "metrics"' in x]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        names = {f.name for f in text_string_to_metric_families(text)}
        assert {"ncctl_component_desired", "ncctl_schedule_feed_handler"} <= names
        proc.send_signal(signal.SIGTERM)
        receive(notify_socket, "STOPPING=1", 30)
        proc.wait(timeout=60)
        reader.join(timeout=10)
        err = "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for group in ("session", "feed"):
            subprocess.run(
                [NCCTL, "--config", str(config), group, "stop"], capture_output=True, check=False
            )
    assert proc.returncode == 0, err
    events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert events[:2] == ["metrics", "started"] and events[-2:] == ["stopping", "stopped"]
    assert "pass" in events  # the catch-up pass at start is logged


def test_the_daemon_refuses_a_simulated_clock(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = subprocess.run(
        [NCCTL, "--config", str(config), "--clock", "2026-11-25T10:00", "scheduler", "run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 64 and "ncctl demo" in done.stderr
