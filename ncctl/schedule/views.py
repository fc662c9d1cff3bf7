"""Plain-data views of schedule answers, as the ``--json`` contract shapes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from ncctl.schedule.engine import ScheduleState, Transition


def iso(t: dt.datetime, zone: ZoneInfo) -> str:
    """ISO 8601 with offset, in ``zone``, to the second."""
    return t.astimezone(zone).isoformat(timespec="seconds")


def events_view(transitions: Sequence[Transition], zone: ZoneInfo) -> list[dict[str, str]]:
    return [{"at": iso(t.at, zone), "event": t.event} for t in transitions]


def state_view(
    state: ScheduleState, upcoming: Sequence[Transition], zone: ZoneInfo
) -> dict[str, Any]:
    holiday = None
    if state.holiday is not None:
        h = state.holiday
        holiday = {
            "date": h.date.isoformat(),
            "kind": h.kind,
            "name": h.name,
            "close": h.close,
            "note": h.note,
        }
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
