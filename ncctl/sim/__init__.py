"""Simulators of the feed handler, the iLink 3 order session and the CME gateway, for
development and tests (``ncctl dev up`` runs the gateway of a dev configuration by hand).

Each simulator is a real daemon run as ``python -m ncctl.sim.NAME`` (plain argparse, quick to
start) under the process backend's supervisor, which sends its standard output to the
component's log file. This module holds what both need: signal handling that wakes a sleeping
loop at once, atomic small-file writes, and one-line logging.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import os
import select
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any


def log(prog: str, message: str, *, error: bool = False) -> None:
    """One line on standard output, or standard error for an ``error``, flushed at once.

    Under the process backend both go to the component's log file.
    """
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    stream = sys.stderr if error else sys.stdout
    stream.write(f"{stamp} {prog}[{os.getpid()}]: {'error: ' if error else ''}{message}\n")
    stream.flush()


def write_atomic_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically: a reader sees the old or the new content.

    The temporary file sits beside the target (same file system) and is renamed over it.
    No fsync: these are run-time status files, rewritten every few seconds.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class SignalWatch:
    """Records signals and wakes :meth:`wait` the moment one arrives.

    The Python-level handler only records the signal number. The wake-up comes from
    :func:`signal.set_wakeup_fd`: the interpreter's C handler writes a byte to a pipe as the
    signal arrives, and :meth:`wait` sleeps in ``select`` on that pipe, so a SIGTERM during a
    one-second sleep is acted on within milliseconds. Main thread only, one per process.
    """

    def __init__(self, signals: Iterable[signal.Signals]) -> None:
        self._pending: list[int] = []
        self._read_fd, self._write_fd = os.pipe()
        for fd in (self._read_fd, self._write_fd):
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
            os.set_inheritable(fd, False)
        self._previous_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        self._previous: dict[signal.Signals, Any] = {}
        for sig in signals:
            self._previous[sig] = signal.signal(sig, self._record)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self._pending.append(signum)

    def seen(self, *signals: signal.Signals) -> bool:
        """True when one of ``signals`` has arrived (it stays recorded)."""
        return any(s in self._pending for s in signals)

    def take(self, sig: signal.Signals) -> bool:
        """True when ``sig`` has arrived since the last call; forgets it."""
        found = False
        while sig in self._pending:
            self._pending.remove(sig)
            found = True
        return found

    def wait(self, timeout_s: float) -> None:
        """Sleep up to ``timeout_s`` seconds, returning early when any signal arrives."""
        if self._pending:
            return
        if timeout_s > 0:
            with contextlib.suppress(InterruptedError):
                select.select([self._read_fd], [], [], timeout_s)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 512):
                pass

    def close(self) -> None:
        """Restore the previous handlers and wake-up fd; close the pipe."""
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_fd)
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def number_arg(
    kind: type[int] | type[float],
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    what: str = "number",
) -> Callable[[str], float]:
    """An argparse ``type=`` for a number in a range, with a message naming the range."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}") from None
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and value > high
        if (too_low or too_high) and low is not None and high is not None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what} ({low:g}-{high:g})")
        if too_low:
            bound = f"greater than {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"{text!r} must be {bound}")
        if too_high:
            raise argparse.ArgumentTypeError(f"{text!r} must be at most {high:g}")
        return value

    return parse


positive = number_arg(float, low=0, low_open=True)
"""A number greater than 0."""
non_negative = number_arg(float, low=0)
"""A number, 0 or more."""
count = number_arg(int, low=1, what="whole number")
"""A whole number, 1 or more."""
