"""What a preflight check sees (:class:`Context`) and says (:class:`CheckResult`), the report
of a run, and its record in ``state_dir/preflight.json`` (read by the metrics)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.schedule import ScheduleEngine

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")
RECORD_NAME = "preflight.json"
RECORD_LIMIT = 1024 * 1024
"""A record holds a line per check; anything this large is not one."""


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: ``detail`` says what was found, ``hint`` what to do about it."""

    name: str
    status: Status
    detail: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Context:
    """What every check sees: the configuration (and its file), the schedule, the time, and
    whether that time is simulated (``--clock``, ``[clock] file``)."""

    config: NcctlConfig
    engine: ScheduleEngine
    now: dt.datetime
    simulated: bool = False
    config_path: Path | None = None
    """The configuration file (None: resolved as every command resolves it)."""

    @property
    def live(self) -> bool:
        """Whether preflight may reach a wire and record its outcome: on the machine's
        clock, or on any clock in a ``dev`` environment (simulators, local directories)."""
        return not self.simulated or self.config.environment == "dev"

    def no_wire(self, name: str, what: str) -> CheckResult:
        """The skip of a check that would go over the wire under a simulated clock."""
        return CheckResult(
            name,
            "skip",
            f"simulated clock on the {self.config.environment!r} configuration: {what} is not "
            "contacted (a simulated clock never reaches a wire)",
            "run without --clock to check it",
        )


@dataclass
class Report:
    """Every check's result at one instant."""

    at: dt.datetime
    checks: list[CheckResult] = field(default_factory=list)
    recorded: bool = False

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in STATUSES}

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "fail"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(timespec="seconds"),
            "ok": not self.failed,
            "counts": self.counts(),
            "checks": [c.as_dict() for c in self.checks],
            "recorded": self.recorded,
        }


def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD_NAME


def record(report: Report, state_dir: Path) -> None:
    """Write the report for the metrics, atomically, readable by its owner only."""
    from ncctl import floor

    floor.ensure_dir(state_dir, "state directory")
    doc = {"at": report.at.timestamp(), "checks": [c.as_dict() for c in report.checks]}
    floor.write_text_atomic(
        record_path(state_dir), json.dumps(doc, sort_keys=True) + "\n", mode=0o600
    )
    report.recorded = True


@dataclass(frozen=True)
class Recorded:
    """The last recorded run: when (POSIX seconds) and each check's status."""

    at: float
    statuses: dict[str, Status]


def read_record(state_dir: Path) -> Recorded | None:
    """The last recorded run, or None when there is none (nothing is created). A damaged
    record raises DataError naming it."""
    import os

    from ncctl import floor
    from ncctl.errors import DataError

    path = record_path(state_dir)
    try:
        fd = floor.open_fd(path, os.O_RDONLY, what="preflight record", trusted_dir=False)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(RECORD_LIMIT + 1)
    try:
        doc = json.loads(raw.decode("utf-8"))
        at = float(doc["at"])
        statuses: dict[str, Status] = {}
        for check in doc["checks"]:
            status = check["status"]
            if status not in STATUSES or not isinstance(check["name"], str):
                raise ValueError(f"bad check {check!r:.80}")
            statuses[check["name"]] = status
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{path}: not a preflight record ({exc})",
            hint="run `ncctl preflight` to write it again",
            code="preflight.record",
        ) from None
    return Recorded(at, statuses)
