"""Shared helpers for the simulator tests: real child processes (waiting: tests/helpers.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def stop(child: subprocess.Popen[bytes], timeout_s: float = 5.0) -> tuple[int, float]:
    """SIGTERM ``child``; its exit status and the seconds it took to exit."""
    sent = time.monotonic()
    child.send_signal(signal.SIGTERM)
    code = child.wait(timeout=timeout_s)
    return code, time.monotonic() - sent


class Children:
    """``python -m MODULE ARGS`` children of one test; any still running at teardown is
    killed and reaped."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen[bytes]] = []

    def start(
        self, module: str, *args: str, out: Path, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a child with standard output and error appended to ``out`` (as under the
        process backend, where both go to the component's log file); ``env`` is added to
        this process's environment."""
        with out.open("ab") as fh:
            child = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        self._started.append(child)
        return child

    def kill_all(self) -> None:
        for child in self._started:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=10)


@pytest.fixture
def children() -> Iterator[Children]:
    started = Children()
    try:
        yield started
    finally:
        started.kill_all()
