"""Times for people: every time a text view shows is in one zone, and the view names it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console


def local(value: str | dt.datetime | None, zone: ZoneInfo) -> str:
    """An instant (ISO 8601 text or a datetime; without an offset it is UTC) as ISO 8601 in
    ``zone``, to the second, with the zone's offset; text that is not a time is shown as is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            at = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        at = value
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(zone).isoformat(timespec="seconds")


def zone_line(zone: ZoneInfo) -> str:
    return f"times in {zone.key}"


def print_zone(console: Console, zone: ZoneInfo) -> None:
    """The header line of a text view that shows times: which zone they are in."""
    console.print(zone_line(zone), markup=False, highlight=False)
