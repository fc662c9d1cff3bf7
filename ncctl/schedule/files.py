"""Schedule data: the weekly template and the holiday tables, as validated models.

Both live in TOML files under ``schedules/`` (data, never code). A template states, in the
exchange's local wall-clock time, the trading sessions of a week, the events of the week and
the daily windows. A holiday table lists full closures and early closes of trade dates.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ncctl.errors import ConfigError
from ncctl.schedule.weektime import (
    DAYS,
    EVENT_RANK,
    MARKET_EVENTS,
    STATE_EVENTS,
    parse_clock,
    split_week_time,
    week_minute,
)
from ncctl.validation import describe_validation_error, read_toml

_M = TypeVar("_M", bound="BaseModel")

__all__ = [
    "DAYS",
    "EVENT_RANK",
    "MARKET_EVENTS",
    "STATE_EVENTS",
    "HolidaySpec",
    "HolidayTable",
    "WeeklyTemplate",
    "load_holiday_table",
    "load_schedule_file",
    "load_template",
    "parse_clock",
    "split_week_time",
    "week_minute",
]


def _check_clock(value: str) -> str:
    parse_clock(value)
    return value


def _check_day(value: str) -> str:
    if value not in DAYS:
        raise ValueError(f"day must be one of {', '.join(DAYS)}, got {value!r}")
    return value


def _check_week_time(value: str) -> str:
    parts = value.split(" ")
    if len(parts) != 2:
        raise ValueError(f"must be 'Day HH:MM' such as 'Sun 15:00', got {value!r}")
    _check_day(parts[0])
    _check_clock(parts[1])
    return value


def _check_event(value: str) -> str:
    if value not in EVENT_RANK:
        raise ValueError(f"unknown event {value!r}; known: {', '.join(sorted(EVENT_RANK))}")
    return value


Clock = Annotated[str, AfterValidator(_check_clock)]
Day = Annotated[str, AfterValidator(_check_day)]
WeekTime = Annotated[str, AfterValidator(_check_week_time)]
EventName = Annotated[str, AfterValidator(_check_event)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionSpec(_Strict):
    """One trading session, named by its trade date's weekday."""

    trade_day: Day
    pre_open: WeekTime
    open: WeekTime
    close: WeekTime

    @model_validator(mode="after")
    def _ordered(self) -> SessionSpec:
        p, o, c = week_minute(self.pre_open), week_minute(self.open), week_minute(self.close)
        if not p < o < c:
            raise ValueError(
                f"session {self.trade_day}: pre_open < open < close must hold in week order"
            )
        if self.close.split(" ")[0] != self.trade_day:
            raise ValueError(f"session {self.trade_day}: close must fall on its trade day")
        return self


class WeekSpec(_Strict):
    """The span of a trading week: the feed handler runs from ``start`` to ``end``."""

    start: WeekTime
    end: WeekTime

    @model_validator(mode="after")
    def _ordered(self) -> WeekSpec:
        if week_minute(self.start) >= week_minute(self.end):
            raise ValueError("week.start must come before week.end")
        return self


class EventSpec(_Strict):
    """An event at a weekday and time. ``anchor = "week_end"`` moves it with the week's end."""

    event: EventName
    at: WeekTime
    anchor: Literal["clock", "week_end"] = "clock"


class WindowSpec(_Strict):
    """A daily window: ``start`` inclusive, ``end`` exclusive, on each of ``days``."""

    name: str = Field(min_length=1)
    days: list[Day] = Field(min_length=1)
    start: Clock
    end: Clock
    on_start: list[EventName] = Field(default_factory=list)
    on_end: list[EventName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        if parse_clock(self.start) >= parse_clock(self.end):
            raise ValueError(f"window {self.name!r}: start must come before end")
        if len(set(self.days)) != len(self.days):
            raise ValueError(f"window {self.name!r}: a day is listed twice")
        return self


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_tz)]


class WeeklyTemplate(_Strict):
    """The weekly template of an exchange as run for a client container."""

    name: str = Field(min_length=1)
    description: str = ""
    tz: TimeZoneName
    week: WeekSpec
    sessions: list[SessionSpec] = Field(min_length=1)
    events: list[EventSpec] = Field(default_factory=list)
    windows: list[WindowSpec] = Field(default_factory=list)

    @staticmethod
    def _week_span(info: ValidationInfo) -> tuple[int, int] | None:
        week = info.data.get("week")
        if not isinstance(week, WeekSpec):
            return None  # week itself is invalid: reported there
        return week_minute(week.start), week_minute(week.end)

    @field_validator("sessions")
    @classmethod
    def _sessions(cls, sessions: list[SessionSpec], info: ValidationInfo) -> list[SessionSpec]:
        days = [s.trade_day for s in sessions]
        if len(set(days)) != len(days):
            raise ValueError("two sessions share a trade_day")
        spans = sorted(
            ((week_minute(s.pre_open), week_minute(s.close), s) for s in sessions),
            key=lambda span: (span[0], span[1]),
        )
        for (_, end_a, a), (start_b, _, b) in itertools.pairwise(spans):
            if start_b < end_a:
                raise ValueError(f"sessions {a.trade_day} and {b.trade_day} overlap")
        span = cls._week_span(info)
        if span is not None:
            for s in sessions:
                if not (span[0] <= week_minute(s.pre_open) and week_minute(s.close) <= span[1]):
                    raise ValueError(f"session {s.trade_day} falls outside week.start-week.end")
        return sessions

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[EventSpec], info: ValidationInfo) -> list[EventSpec]:
        span = cls._week_span(info)
        if span is not None:
            for e in events:
                if not span[0] <= week_minute(e.at) <= span[1] + 60 * 24:
                    raise ValueError(f"event {e.event} at {e.at} falls outside the week")
        return events

    @field_validator("windows")
    @classmethod
    def _windows(cls, windows: list[WindowSpec]) -> list[WindowSpec]:
        by_day: dict[str, list[WindowSpec]] = {}
        for w in windows:
            for d in w.days:
                for other in by_day.get(d, []):
                    if w.start < other.end and other.start < w.end:
                        raise ValueError(f"windows {other.name!r} and {w.name!r} overlap on {d}")
                by_day.setdefault(d, []).append(w)
        return windows

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


class HolidaySpec(_Strict):
    """A full closure or an early close of one trade date."""

    date: dt.date
    kind: Literal["closed", "early_close"]
    close: Clock | None = None
    name: str = Field(min_length=1)
    note: str = Field(min_length=1, description="one-line source note")

    @field_validator("date", mode="before")
    @classmethod
    def _toml_date(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            raise ValueError("must be a date such as 2026-11-26, not a date-time")
        return value

    @model_validator(mode="after")
    def _close_for_early(self) -> HolidaySpec:
        if self.kind == "early_close" and self.close is None:
            raise ValueError(f"{self.date}: an early_close needs close = 'HH:MM'")
        if self.kind == "closed" and self.close is not None:
            raise ValueError(f"{self.date}: a full closure has no close time")
        return self

    @property
    def close_time(self) -> dt.time | None:
        return parse_clock(self.close) if self.close else None


class HolidayTable(_Strict):
    """The holidays of one calendar year."""

    calendar: str = Field(min_length=1)
    year: int = Field(ge=1970, le=2200)
    source: str = Field(min_length=1)
    holidays: list[HolidaySpec] = Field(default_factory=list)

    @field_validator("holidays")
    @classmethod
    def _in_year(cls, holidays: list[HolidaySpec], info: ValidationInfo) -> list[HolidaySpec]:
        year = info.data.get("year")
        seen: set[dt.date] = set()
        for h in holidays:
            if isinstance(year, int) and h.date.year != year:
                raise ValueError(f"holiday {h.date} is not in year {year}")
            if h.date in seen:
                raise ValueError(f"holiday {h.date} is listed twice")
            seen.add(h.date)
        return holidays


def _validate(model: type[_M], path: Path, doc: dict[str, Any]) -> _M:
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_error(str(path), exc),
            hint="fix the key named; `ncctl schedule check FILE` checks a schedule file",
        ) from None


def load_template(path: Path) -> WeeklyTemplate:
    """Load and validate a weekly template file."""
    return _validate(WeeklyTemplate, path, read_toml(path, ConfigError, "schedule file"))


def load_holiday_table(path: Path) -> HolidayTable:
    """Load and validate a holiday table file."""
    return _validate(HolidayTable, path, read_toml(path, ConfigError, "holiday file"))


def load_schedule_file(path: Path) -> WeeklyTemplate | HolidayTable:
    """Load either kind of schedule file, telling them apart by their keys."""
    doc = read_toml(path, ConfigError, "schedule file")
    if "holidays" in doc or "year" in doc:
        return _validate(HolidayTable, path, doc)
    return _validate(WeeklyTemplate, path, doc)
