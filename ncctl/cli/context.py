"""What every command shares: the global options and the configuration, loaded once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ncctl.clock import Clock
    from ncctl.config import LoadedConfig
    from ncctl.schedule import ScheduleEngine


def _system_clock() -> Clock:
    from ncctl.clock import SystemClock

    return SystemClock()


@dataclass
class AppState:
    config_path: Path | None = None
    debug: bool = False
    clock_at: str | None = None
    clock_speed: float = 1.0
    _clock: Clock | None = field(default=None, repr=False)
    _loaded: LoadedConfig | None = field(default=None, repr=False)
    _engine: ScheduleEngine | None = field(default=None, repr=False)

    def config(self) -> LoadedConfig:
        if self._loaded is None:
            from ncctl import config

            self._loaded = config.load(self.config_path)
        return self._loaded

    def reset(self) -> None:
        """Forget everything from a previous run (``main`` may run many times in-process)."""
        self.config_path = None
        self.debug = False
        self._loaded = None
        self._engine = None
        self.clock_at = None
        self.clock_speed = 1.0
        self._clock = None

    def now(self) -> dt.datetime:
        """The current time: the machine's, or the simulated clock of ``--clock``."""
        if self._clock is None:
            if self.clock_at is None:
                self._clock = _system_clock()
            else:
                from ncctl.clock import SimulatedClock
                from ncctl.schedule.timeparse import parse_instant

                start = parse_instant(self.clock_at, self.engine().zone, "--clock")
                self._clock = SimulatedClock(start, self.clock_speed)
        return self._clock.now()

    def engine(self) -> ScheduleEngine:
        if self._engine is None:
            from ncctl.schedule import load_engine

            sched = self.config().config.schedule
            self._engine = load_engine(sched.template_path(), sched.holiday_paths())
        return self._engine

    def display_zone(self, tz: str | None) -> ZoneInfo:
        from ncctl.schedule.timeparse import parse_zone

        if tz is not None:
            return parse_zone(tz)
        return parse_zone(self.config().config.schedule.display_tz, "schedule.display_tz")


STATE = AppState()
