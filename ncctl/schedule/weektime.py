"""Days, times of the week and event names: the vocabulary of schedule files (no pydantic)."""

from __future__ import annotations

import datetime as dt
import re

DAYS: tuple[str, ...] = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
"""Day names in week order; a schedule week starts on Sunday."""

STATE_EVENTS: tuple[str, ...] = (
    "market.closed",
    "maintenance.start",
    "order_entry.down",
    "feed_handler.off",
    "rotation.daily",
    "rotation.weekly",
    "feed_handler.on",
    "party_registration",
    "maintenance.end",
    "order_entry.up",
    "market.pre_open",
    "market.open",
)
"""Every event name, in the order events falling on the same instant are applied.

Things are switched off before others are switched on, so that no prefix of the events of
one instant shows the order session up while the feed handler is off.
"""

EVENT_RANK: dict[str, int] = {name: i for i, name in enumerate(STATE_EVENTS)}
MARKET_EVENTS = frozenset({"market.closed", "market.pre_open", "market.open"})

_TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")


def parse_clock(value: str) -> dt.time:
    """Parse ``HH:MM`` (00:00-23:59) into a time; raise ValueError naming the problem."""
    m = _TIME_RE.match(value)
    if not m:
        raise ValueError(f"time of day must be HH:MM, got {value!r}")
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"time of day {value!r} does not exist (00:00 to 23:59)")
    return dt.time(hour, minute)


def week_minute(value: str) -> int:
    """Minutes since Sunday 00:00 of a validated ``'Day HH:MM'``."""
    day, clock = value.split(" ")
    t = parse_clock(clock)
    return DAYS.index(day) * 1440 + t.hour * 60 + t.minute


def split_week_time(value: str) -> tuple[int, dt.time]:
    """Day offset from Sunday and time of day of a validated ``'Day HH:MM'``."""
    day, clock = value.split(" ")
    return DAYS.index(day), parse_clock(clock)
