"""Plain-data views of schedule answers, as the ``--json`` contract shapes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from ncctl.schedule.engine import Holiday, ScheduleEngine, ScheduleSnapshot, Transition


def iso(t: dt.datetime, zone: ZoneInfo) -> str:
    """ISO 8601 with offset, in ``zone``, to the second."""
    return t.astimezone(zone).isoformat(timespec="seconds")


def events_view(transitions: Sequence[Transition], zone: ZoneInfo) -> list[dict[str, str]]:
    return [{"at": iso(t.at, zone), "event": t.event} for t in transitions]


def holiday_view(h: Holiday | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {
        "date": h.date.isoformat(),
        "kind": h.kind,
        "name": h.name,
        "close": h.close,
        "note": h.note,
    }


def days_view(
    engine: ScheduleEngine, start: dt.datetime, end: dt.datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Every calendar day (in ``zone``) of ``[start, end)``, those without events too: its
    holiday (a closure or an early close, by name), whether the market is closed all day (no
    market event), and the trade date of the session that closes that day (None when none)."""
    first = start.astimezone(zone).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(zone).date()
    whole = (  # whole days: a span that starts or ends inside a day still sees all of it
        dt.datetime.combine(first, dt.time(0), tzinfo=zone),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=zone),
    )
    transitions = engine.transitions(*whole)
    market_days = {
        t.at.astimezone(zone).date() for t in transitions if t.event.startswith("market.")
    }
    closes = {
        t.at.astimezone(zone).date(): engine.trade_date(t.at)
        for t in transitions
        if t.event == "market.closed"
    }
    days = []
    day = first
    while day <= last:
        holiday = engine.holidays.get(day)
        trade_date = closes.get(day)
        days.append(
            {
                "date": day.isoformat(),
                "weekday": day.strftime("%a"),
                "trade_date": trade_date.isoformat() if trade_date else None,
                "closed": day not in market_days,
                "holiday": holiday_view(holiday),
            }
        )
        day += dt.timedelta(days=1)
    return days


def state_view(
    state: ScheduleSnapshot, upcoming: Sequence[Transition], zone: ZoneInfo
) -> dict[str, Any]:
    holiday = holiday_view(state.holiday)
    return {
        "at": iso(state.at, zone),
        "market_state": state.market_state,
        "feed_handler": "on" if state.feed_handler else "off",
        "order_entry": "up" if state.order_entry else "down",
        "maintenance": state.maintenance,
        "l3_loop": "on" if state.l3_loop else "off",
        "trade_date": state.trade_date.isoformat(),
        "holiday": holiday,
        "next": events_view(upcoming, zone),
    }
