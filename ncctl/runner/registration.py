"""The Sunday party-ID registration job, and the gate it puts before the order session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.appconfig.model import NcctlConfig

if TYPE_CHECKING:
    from ncctl.ilink.party_inputs import PartyInputs
    from ncctl.runner.job_actions import JobAction, PassContext

SessionGate = Callable[[dt.date], tuple[bool, str]]


def party_inputs(config: NcctlConfig) -> PartyInputs:
    """What the party commands need of ``config``: ``[ilink]``, ``[[party_details]]``, the
    state directory and the audit trail every message is written to."""
    from ncctl.ilink.party_inputs import PartyInputs

    audit = config.logs.audit
    return PartyInputs(
        ilink=config.ilink,
        entries=tuple(config.party_details),
        state_dir=Path(config.state_dir),
        audit_path=Path(audit.path) if audit is not None else None,
    )


def registration_hook(config: NcctlConfig) -> JobAction | None:
    """The job action that registers the configured party details over iLink 3, or None
    when no ``[[party_details]]`` are configured."""
    inputs = party_inputs(config)
    if not inputs.entries:
        return None

    def register(rec: PassContext, instant: dt.datetime) -> dict[str, Any]:
        from ncctl.clock import SystemClock
        from ncctl.ilink.registration import register_all

        # the machine's clock even under a simulated one: CME rejects a Negotiate whose
        # RequestTimestamp is more than a few seconds off; the week comes from the schedule
        result = register_all(
            inputs,
            clock=SystemClock(),
            trade_date=rec.engine.trade_date(instant),
        )
        if result.failure is not None:
            raise result.failure
        return {
            "week": result.week.isoformat(),
            **result.counts(),
            "secret_expires_in_days": result.secret_expires_in_days,
        }

    return register


def session_gate(config: NcctlConfig) -> SessionGate | None:
    """Whether the order session may come up on a trade date (registration done for its week,
    unless ``ilink.require_registration = false``); None when nothing is configured."""
    from ncctl.ilink.session_gate import order_session_allowed

    inputs = party_inputs(config)
    if not inputs.entries:
        return None
    return lambda trade_date: order_session_allowed(inputs, trade_date)
