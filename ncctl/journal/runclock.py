"""The clock an action ran under, as every journal line records it.

A command sets it once it knows its clock (:func:`run_under`); an override of the
simulated-clock guard (``--force --reason``) is set with it. Code that journals without a
command around it (the daemon, the demo's passes) gets the shared clock of
``$NCCTL_CLOCK_FILE`` when one is named, the machine's clock otherwise. Older lines have no
``clock`` field: they were written before it existed (and on the machine's clock).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ncctl.clock import Clock


@dataclass(frozen=True)
class RunClock:
    clock: Clock
    override: str | None = None
    """The reason given with --force to act on a simulated clock, if it was needed."""


_CURRENT: ContextVar[RunClock | None] = ContextVar("journal_run_clock", default=None)


def run_under(clock: Clock | None, override: str | None = None) -> None:
    """Journal the actions of this command as run under ``clock`` (None: forget it)."""
    _CURRENT.set(RunClock(clock, override) if clock is not None else None)


def clock_field() -> dict[str, Any]:
    """The ``clock`` of a journal line written now; a shared clock that cannot be read is
    recorded as simulated with the problem, never as real."""
    from ncctl.clock import clock_from_env, describe
    from ncctl.errors import NcctlError

    current = _CURRENT.get()
    clock = current.clock if current is not None else clock_from_env()
    if clock is None:
        return {"kind": "real"}
    try:
        doc = describe(clock)
    except NcctlError as err:
        doc = {"kind": "simulated", "error": err.message}
    if current is not None and current.override is not None:
        doc["override"] = current.override
    return doc
