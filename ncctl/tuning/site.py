"""The host being tuned and where its tuning state lives: what apply and rollback act on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from ncctl.errors import UnavailableError, UsageError
from ncctl.journal import Journal
from ncctl.tuning.host import Host
from ncctl.tuning.plan import Plan, make_plan
from ncctl.tuning.profiles import Profile
from ncctl.tuning.record import TuningRecord
from ncctl.tuning.rollback_journal import RollbackEntry, RollbackJournal, tuning_dir
from ncctl.tuning.window import TradingWindow


class RunOptions(TypedDict, total=False):
    """The options of an apply or a rollback (the keyword arguments of both)."""

    window: TradingWindow
    force: bool
    reason: str | None
    dry_run: bool


@dataclass
class Site:
    """``host`` with its state under ``state_dir/tuning`` and its journal."""

    host: Host
    state_dir: Path
    journal: Journal
    mounts: Path | None = None
    """The mount table that tells whether ``state_dir`` survives a reboot (None: unchecked)."""
    now: dt.datetime | None = None
    directory: Path = field(init=False)
    record: TuningRecord = field(init=False)

    def __post_init__(self) -> None:
        self.directory = tuning_dir(self.state_dir)
        self.record = TuningRecord(self.directory)

    def check_root(self) -> None:
        if not self.host.root.is_dir():
            raise UnavailableError(
                f"tuning root {self.host.root} does not exist",
                hint="create it, or name an existing directory with --root or tuning.root",
            )

    def plan(self, profile: Profile, window: TradingWindow) -> Plan:
        """Read every setting of ``profile`` and classify it; write nothing."""
        self.check_root()
        return make_plan(profile, self.host, self.record, window)

    def log(self, command: str, outcome: str, reason: str | None, details: dict[str, Any]) -> None:
        """Journal ``command`` run on this root (``details["args"]`` joins the arguments)."""
        self.journal.append(
            command,
            {"root": str(self.host.root), **details.pop("args", {})},
            outcome,
            reason=reason,
            details=details,
        )

    def open_entries(self, journal: RollbackJournal) -> list[RollbackEntry]:
        """The journal's open entries; UsageError when they were made under another root."""
        entries = journal.open_entries()
        other = {e.root for e in entries} - {str(self.host.root)}
        if other:
            raise UsageError(
                f"the rollback journal holds changes made under root {sorted(other)[0]}",
                hint=f"run `ncctl tune rollback --root {sorted(other)[0]}` first",
            )
        return entries


def check_force(force: bool, reason: str | None) -> None:
    if force and not (reason and reason.strip()):
        raise UsageError("--force needs --reason TEXT", hint="say why, for the journal")
