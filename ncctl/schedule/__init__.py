"""The pure schedule engine and its data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ncctl.schedule.engine import (
    CompiledTemplate,
    Holiday,
    HolidayCalendar,
    ScheduleEngine,
    ScheduleSnapshot,
    Switches,
    Transition,
)

__all__ = [
    "CompiledTemplate",
    "Holiday",
    "HolidayCalendar",
    "ScheduleEngine",
    "ScheduleSnapshot",
    "Switches",
    "Transition",
    "load_engine",
]


def load_engine(template: Path, holidays: Sequence[Path] = ()) -> ScheduleEngine:
    """Build an engine from a template file and holiday table files (validated)."""
    from ncctl.errors import ConfigError
    from ncctl.schedule.files import load_holiday_table, load_template

    calendar = HolidayCalendar()
    covered: dict[int, Path] = {}
    for path in holidays:
        table = load_holiday_table(path)
        if table.year in covered:
            raise ConfigError(
                f"schedule.holidays: {path} covers {table.year}, "
                f"which {covered[table.year]} already covers",
                hint="list each year's holiday table once",
            )
        covered[table.year] = path
        calendar.add_year(
            table.year,
            (Holiday(h.date, h.kind, h.close, h.name, h.note) for h in table.holidays),
        )
    return ScheduleEngine(load_template(template), calendar)
