"""The clock an action ran under, as every journal line records it.

The running command says which simulated clock it acts on (:func:`ncctl.clock.run_on`);
code that journals without a command around it (the daemon, the demo's passes) gets the shared
clock of ``$NCCTL_CLOCK_FILE`` when one is named, the machine's clock otherwise. An override
of the simulated-clock guard (``--force --reason``) is recorded with it (:func:`forced`).
Older lines have no ``clock`` field: they were written before it existed.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_OVERRIDE: ContextVar[str | None] = ContextVar("journal_clock_override", default=None)


def forced(reason: str | None) -> None:
    """Record that this command acts on a simulated clock only because ``--force --reason``
    said so (None: it was not needed)."""
    _OVERRIDE.set(reason)


def clock_field() -> dict[str, Any]:
    """The ``clock`` of a journal line written now; a shared clock that cannot be read is
    recorded as simulated with the problem, never as real."""
    from ncctl.clock import describe, running
    from ncctl.errors import NcctlError

    clock = running()
    if clock is None:
        return {"kind": "real"}
    try:
        doc = describe(clock)
    except NcctlError as err:
        doc = {"kind": "simulated", "error": err.message}
    override = _OVERRIDE.get()
    if override is not None:
        doc["override"] = override
    return doc
