"""The journal: an append-only, hash-chained record of every state-changing action.

One JSON line per action: UTC timestamp in nanoseconds, user, host, command, arguments,
outcome and reason, its sequence number ``seq``, ``prev`` (the SHA-256 of the previous line's
text) and ``hash`` (the SHA-256 of its own content, every field but ``hash``, canonically
serialised). Editing, removing or reordering lines breaks the chain; deleting lines at the end,
truncating, emptying or deleting the file, or appending lines with a recomputed chain is caught
by the head anchored outside the file (``journal.sqlite``, the metrics, and the head exported
with every trade date's archives). See :mod:`ncctl.journal.writer` for how an append stays all
or nothing and :mod:`ncctl.journal.check` for what ``verify`` checks.
"""

from typing import TYPE_CHECKING, Any

from ncctl.journal.records import GENESIS, JOURNAL_NAME, Head, journal_path
from ncctl.journal.writer import Entry, Journal

if TYPE_CHECKING:
    from ncctl.journal.check import ExportedHead, VerifyResult, verify

_LAZY = {"ExportedHead", "VerifyResult", "verify"}


def __getattr__(name: str) -> Any:
    """The checker is imported when first used: writers (every command that changes state)
    do not pay for it."""
    if name in _LAZY:
        from ncctl.journal import check

        return getattr(check, name)
    raise AttributeError(f"module 'ncctl.journal' has no attribute {name!r}")


__all__ = [
    "GENESIS",
    "JOURNAL_NAME",
    "Entry",
    "ExportedHead",
    "Head",
    "Journal",
    "VerifyResult",
    "journal_path",
    "verify",
]
