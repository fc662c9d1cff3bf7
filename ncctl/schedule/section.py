"""The ``[schedule]`` section: which weekly template and holiday tables, and the display zone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from ncctl.config.paths import DataRef
from ncctl.config.section import FileRef, Section
from ncctl.resources import builtin_holidays, builtin_schedule
from ncctl.schedule.files import TimeZoneName

ScheduleRef = Annotated[FileRef, DataRef]


class ScheduleConfig(Section):
    """Which weekly template and holiday tables drive the schedule, and the display zone.

    A value ending in ``.toml`` is a path (relative: from the configuration file's directory);
    any other value names a file shipped with ncctl
    (``cme-globex`` is ``schedules/cme-globex.toml``, ``cme-2026`` is
    ``schedules/holidays/cme-2026.toml``).
    """

    template: ScheduleRef = "cme-globex"
    holidays: list[ScheduleRef] = Field(default_factory=lambda: ["cme-2026", "cme-2027"])
    display_tz: TimeZoneName = "America/Chicago"

    @field_validator("holidays")
    @classmethod
    def _once_each(cls, holidays: list[str]) -> list[str]:
        if len(set(holidays)) != len(holidays):
            raise ValueError("a holiday table is listed twice")
        return holidays

    def template_path(self) -> Path:
        return _resolve_data(self.template, builtin_schedule)

    def holiday_paths(self) -> list[Path]:
        return [_resolve_data(h, builtin_holidays) for h in self.holidays]


def _resolve_data(value: str, builtin: Any) -> Path:
    if value.endswith(".toml"):
        return Path(value)
    path: Path = builtin(value)
    return path
