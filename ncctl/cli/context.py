"""What every command shares: the global options and the configuration, loaded once."""

from __future__ import annotations

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
    clock: Clock = field(default_factory=_system_clock)
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
        self.clock = _system_clock()

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
