"""The ``require_registration`` gate: whether the order session may come up for a trade date
(every configured entry registered, unchanged, for its week)."""

from __future__ import annotations

import datetime as dt

from ncctl.ilink.party_inputs import PartyInputs, week_of
from ncctl.ilink.registration_store import RegistrationStore, WeekStatus


def week_status(inputs: PartyInputs, trade_date: dt.date) -> WeekStatus:
    """Whether every configured entry is registered, unchanged, for the week of
    ``trade_date`` (what the runner checks before bringing the order session up)."""
    return RegistrationStore(inputs.state_dir).week_status(week_of(trade_date), inputs.entries)


def order_session_allowed(inputs: PartyInputs, trade_date: dt.date) -> tuple[bool, str]:
    """The ``require_registration`` gate: (allowed, why)."""
    if not inputs.ilink.require_registration:
        return True, "ilink.require_registration is false"
    if not inputs.entries:
        return True, "no [[party_details]] entries are configured"
    status = week_status(inputs, trade_date)
    if status.registered:
        return True, f"party details registered for the week of {status.week.isoformat()}"
    why = []
    if status.missing:
        why.append(f"not registered: {', '.join(map(str, status.missing))}")
    if status.changed:
        why.append(f"changed since registration: {', '.join(map(str, status.changed))}")
    return False, f"week of {status.week.isoformat()}: " + "; ".join(why)
