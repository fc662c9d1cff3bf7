"""The pure schedule engine and its data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ncctl.schedule.engine import (
    CompiledTemplate,
    Holiday,
    HolidayCalendar,
    ScheduleEngine,
    ScheduleState,
    Switches,
    Transition,
)

__all__ = [
    "CompiledTemplate",
    "Holiday",
    "HolidayCalendar",
    "ScheduleEngine",
    "ScheduleState",
    "Switches",
    "Transition",
    "load_engine",
]


def load_engine(template: Path, holidays: Sequence[Path] = ()) -> ScheduleEngine:
    """Build an engine from a template file and holiday table files (validated)."""
    from ncctl.errors import ConfigError
    from ncctl.schedule.data import load_holiday_table, load_template

    tables = [load_holiday_table(p) for p in holidays]
    try:
        calendar = HolidayCalendar(tables)
    except ValueError as exc:
        raise ConfigError(str(exc), hint="list each year's holiday table once") from None
    return ScheduleEngine(load_template(template), calendar)
