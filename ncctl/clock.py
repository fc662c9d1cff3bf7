"""Clocks: the one place ncctl reads the time, so that engines take time as a parameter."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol


class Clock(Protocol):
    """Something that says what time it is (always an aware datetime)."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock stopped at one instant (``--at``, tests)."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> dt.datetime:
        return self.at


class SimulatedClock:
    """A clock that starts at ``start`` and runs ``speed`` times faster than real time."""

    def __init__(self, start: dt.datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware datetime")
        problem = check_speed(speed)
        if problem is not None:
            raise ValueError(problem)
        self.start = start
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> dt.datetime:
        elapsed = (time.monotonic() - self._origin) * self.speed
        return self.start + dt.timedelta(seconds=elapsed)


CLOCK_FILE_ENV = "NCCTL_CLOCK_FILE"


CLOCK_FILE_LIMIT = 1024 * 1024
"""clock.json holds four short fields; anything this large is not a clock file."""
MAX_SPEED = 1e6
"""Simulated seconds per real second, at most (a week in under a second)."""
_WALL_RANGE = (0.0, 1e11)
"""POSIX seconds a clock file may name as its wall-clock moment (1970 to year 5138)."""


def check_speed(value: float) -> str | None:
    """What is wrong with ``value`` as a clock speed (finite, above 0, at most MAX_SPEED)."""
    if not math.isfinite(value) or value <= 0:
        return f"{value!r} is not a speed: it must be a finite number above 0"
    if value > MAX_SPEED:
        return f"{value!r} is too fast (at most {MAX_SPEED:g})"
    return None


def parse_clock(raw: bytes) -> tuple[dt.datetime, float, float, bool]:
    """The (sim, wall, speed, paused) of a clock file's bytes; ValueError says what is wrong."""
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise ValueError("not a clock document: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"not a JSON object but {type(doc).__name__}")
    missing = [k for k in ("sim", "wall", "speed", "paused") if k not in doc]
    if missing:
        raise ValueError(f"key {missing[0]!r} is missing")
    sim, wall, speed, paused = doc["sim"], doc["wall"], doc["speed"], doc["paused"]
    if not isinstance(sim, str):
        raise ValueError("'sim' is not a string")
    try:
        at = dt.datetime.fromisoformat(sim)
    except ValueError:
        raise ValueError(f"'sim' is not an ISO 8601 time: {sim[:40]!r}") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"'sim' has no UTC offset: {sim[:40]!r}")
    for key, value in (("wall", wall), ("speed", speed)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{key!r} is not a number")
    wall_s, speed_f = float(wall), float(speed)
    if not (_WALL_RANGE[0] < wall_s < _WALL_RANGE[1]):
        raise ValueError(f"'wall' is not a POSIX time: {wall!r}")
    problem = check_speed(speed_f)
    if problem is not None:
        raise ValueError(f"'speed': {problem}")
    if not isinstance(paused, bool):
        raise ValueError("'paused' is not true or false")
    return at, wall_s, speed_f, paused


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


class SharedClock:
    """A simulated clock shared by several processes through a small JSON file.

    The file holds the simulated instant at a wall-clock moment, the speed, and whether the
    clock is paused. The driver (``ncctl demo``) pauses it while ncctl acts and moves it to
    each scheduled event, as a discrete-event simulation does; every reader computes the same
    ``now``. Readers find the file through ``$NCCTL_CLOCK_FILE``. A file that is not such a
    clock (damaged, of the wrong type, too large, unreadable) is a one-line error naming it.
    """

    def __init__(self, path: Path, source: str = "$NCCTL_CLOCK_FILE") -> None:
        self.path = path
        self.source = source
        self._stamp: tuple[int, int, int] | None = None
        self._doc: tuple[dt.datetime, float, float, bool] | None = None

    def _hint(self) -> str:
        if self.source == "clock.file":
            return "rewrite it with `ncctl clock set TIME --speed N`"
        return f"fix {self.path} or unset {self.source}"

    def _read(self) -> tuple[dt.datetime, float, float, bool]:
        from ncctl.errors import ConfigError, DataError, PermissionDeniedError
        from ncctl.small_files import read_capped

        what = "the shared simulated clock"
        try:
            st = self.path.lstat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            start = "start the simulated clock with `ncctl clock set TIME --speed N`"
            raise ConfigError(
                f"{self.source}: {self.path} does not exist",
                hint=f"{start}, or remove [clock] from the configuration"
                if self.source == "clock.file"
                else f"{start}, or unset {self.source}",
            ) from None
        except (OSError, ValueError):
            stamp = None  # read_capped names the problem
        if self._doc is None or stamp is None or stamp != self._stamp:
            try:
                raw = read_capped(
                    self.path,
                    what=what,
                    limit=CLOCK_FILE_LIMIT,
                    error=DataError,
                    denied=PermissionDeniedError,
                )
            except DataError as err:
                err.hint = self._hint()
                raise
            try:
                self._doc = parse_clock(raw)
            except ValueError as exc:
                raise DataError(
                    f"{self.path}: {what} is damaged: {exc}",
                    hint=self._hint(),
                    code="clock.invalid",
                ) from None
            self._stamp = stamp
        return self._doc

    def now(self) -> dt.datetime:
        sim, wall, speed, paused = self._read()
        if paused:
            return sim
        try:
            return sim + dt.timedelta(seconds=(time.time() - wall) * speed)
        except OverflowError:
            from ncctl.errors import DataError

            raise DataError(
                f"{self.path}: the shared simulated clock runs out of the calendar "
                f"(sim {sim.isoformat()}, speed {speed:g})",
                hint=self._hint(),
                code="clock.invalid",
            ) from None

    def set(self, sim: dt.datetime, *, speed: float, paused: bool) -> None:
        """Write the clock (atomically): at ``sim`` now, running at ``speed`` unless paused."""
        if sim.tzinfo is None:
            raise ValueError("SharedClock needs an aware datetime")
        problem = check_speed(speed)
        if problem is not None:
            raise ValueError(problem)
        doc = {"sim": sim.isoformat(), "wall": time.time(), "speed": speed, "paused": paused}
        from ncctl import floor

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            floor.atomic_write(self.path, json.dumps(doc).encode(), what="shared simulated clock")
        except OSError as exc:
            from ncctl.errors import CantCreateError

            raise CantCreateError(
                f"{self.path}: cannot write the shared simulated clock: {exc.strerror}",
                hint="check that it is a regular file (or absent) in a writable directory",
            ) from None
        self._doc, self._stamp = None, None


_RUNNING: ContextVar[Clock | None] = ContextVar("running_clock", default=None)


def run_on(clock: Clock | None) -> None:
    """Say which simulated clock the running command acts on (None: no simulated clock of its
    own), for what it records (the journal)."""
    _RUNNING.set(clock)


def running() -> Clock | None:
    """The simulated clock the running command acts on, or the shared one of
    ``$NCCTL_CLOCK_FILE``; None on the machine's clock."""
    return _RUNNING.get() or clock_from_env()


def describe(clock: Clock) -> dict[str, Any]:
    """What a clock is, for the journal and the context of a command: ``{"kind": "real"}``
    or ``{"kind": "simulated", "at": ISO, "speed": x, "source": "--clock" | "clock.file" |
    "$NCCTL_CLOCK_FILE"}`` (and ``"paused": true`` for a paused shared clock)."""
    if isinstance(clock, SystemClock):
        return {"kind": "real"}
    at = clock.now().isoformat(timespec="seconds")
    if isinstance(clock, SimulatedClock):
        return {"kind": "simulated", "at": at, "speed": clock.speed, "source": "--clock"}
    if isinstance(clock, SharedClock):
        _sim, _wall, speed, paused = clock._read()
        doc: dict[str, Any] = {"kind": "simulated", "at": at, "speed": speed}
        doc["source"] = clock.source
        if paused:
            doc["paused"] = True
        return doc
    return {"kind": "simulated", "at": at, "speed": 0.0, "source": type(clock).__name__}


def clock_from_env() -> Clock | None:
    """The shared simulated clock named by ``$NCCTL_CLOCK_FILE``, if any."""
    value = os.environ.get(CLOCK_FILE_ENV)
    return SharedClock(Path(value)) if value else None
