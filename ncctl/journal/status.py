"""Read-only status of the journal: its head as anchored in ``journal.sqlite`` (nothing is
created)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ncctl.journal.records import Head


@dataclass(frozen=True)
class JournalHead:
    """The journal's committed head (None before the first journaled action, or once the
    anchor is gone) and how many times a writer found the journal different from it."""

    head: Head | None
    anomalies: int


def journal_head(state_dir: Path) -> JournalHead:
    """The head anchored in ``state_dir/journal.sqlite``, opened read-only (a missing anchor
    is no head, and stays missing)."""
    from ncctl.journal.anchor import Anchor

    anchor = Anchor.open_readonly(state_dir)
    if anchor is None:
        return JournalHead(None, 0)
    try:
        state = anchor.state()
    finally:
        anchor.close()
    return JournalHead(state.committed, len(state.anomalies))
