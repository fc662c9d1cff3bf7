"""Trading hours, for refusing disruptive live changes (huge page pools, IRQ moves).

Trading hours are every instant at which the market is OPEN or PRE_OPEN, or order entry is
up (the iLink session may hold orders, including the client L3 sync before pre-open). The
daily maintenance window (market CLOSED, order entry down) and the weekend are outside.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ncctl.schedule import ScheduleEngine, ScheduleSnapshot

MAX_LOOKAHEAD = 256
"""Transitions examined to find the next instant outside trading hours."""


@dataclass(frozen=True)
class TradingWindow:
    inside: bool
    reason: str
    next_outside: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "inside_trading_hours": self.inside,
            "reason": self.reason,
            "next_outside": (
                self.next_outside.isoformat(timespec="seconds") if self.next_outside else None
            ),
        }


def _why_inside(state: ScheduleSnapshot) -> str | None:
    if state.market_state in ("OPEN", "PRE_OPEN"):
        return f"the market is {state.market_state}"
    if state.order_entry:
        return "order entry is up"
    return None


def trading_window(engine: ScheduleEngine, now: dt.datetime) -> TradingWindow:
    """Whether ``now`` is inside trading hours, and when they next end."""
    why = _why_inside(engine.state_at(now))
    if why is None:
        return TradingWindow(False, "outside trading hours (market closed, order entry down)")
    for transition in engine.next_transitions(now, MAX_LOOKAHEAD):
        if _why_inside(engine.state_at(transition.at)) is None:
            return TradingWindow(True, why, transition.at)
    return TradingWindow(True, why, None)


ALWAYS_OUTSIDE = TradingWindow(False, "no schedule given")
