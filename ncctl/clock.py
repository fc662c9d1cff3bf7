"""Clocks: the one place ncctl reads the time, so that engines take time as a parameter."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Protocol


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
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> dt.datetime:
        elapsed = (time.monotonic() - self._origin) * self.speed
        return self.start + dt.timedelta(seconds=elapsed)


CLOCK_FILE_ENV = "NCCTL_CLOCK_FILE"


class SharedClock:
    """A simulated clock shared by several processes through a small JSON file.

    The file holds the simulated instant at a wall-clock moment, the speed, and whether the
    clock is paused. The driver (``ncctl demo``) pauses it while ncctl acts and moves it to
    each scheduled event, as a discrete-event simulation does; every reader computes the same
    ``now``. Readers find the file through ``$NCCTL_CLOCK_FILE``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._doc: tuple[dt.datetime, float, float, bool] | None = None

    def _read(self) -> tuple[dt.datetime, float, float, bool]:
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_ino)
        if self._doc is None or stamp != self._stamp:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            self._doc = (
                dt.datetime.fromisoformat(doc["sim"]),
                float(doc["wall"]),
                float(doc["speed"]),
                bool(doc["paused"]),
            )
            self._stamp = stamp
        return self._doc

    def now(self) -> dt.datetime:
        sim, wall, speed, paused = self._read()
        if paused:
            return sim
        return sim + dt.timedelta(seconds=(time.time() - wall) * speed)

    def set(self, sim: dt.datetime, *, speed: float, paused: bool) -> None:
        """Write the clock (atomically): at ``sim`` now, running at ``speed`` unless paused."""
        if sim.tzinfo is None:
            raise ValueError("SharedClock needs an aware datetime")
        doc = {"sim": sim.isoformat(), "wall": time.time(), "speed": speed, "paused": paused}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        tmp.replace(self.path)
        self._doc, self._stamp = None, None


def clock_from_env() -> Clock | None:
    """The shared simulated clock named by ``$NCCTL_CLOCK_FILE``, if any."""
    value = os.environ.get(CLOCK_FILE_ENV)
    return SharedClock(Path(value)) if value else None
