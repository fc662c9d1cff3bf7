"""What a rotation run did (per category, held and resumed files) and its journal line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ncctl.errors import DataError, RefusedError, TemporaryError

if TYPE_CHECKING:
    from ncctl.journal import Journal

PAST_CODE = "rotate.past"
HELD_CODE = "rotate.held"


@dataclass
class CategoryResult:
    category: str
    trade_date: str | None
    action: str  # rotated | already | planned | nothing
    files: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "trade_date": self.trade_date,
            "action": self.action,
            "files": self.files,
            "message": self.message,
            "warnings": self.warnings,
            "refused": self.refused,
        }


@dataclass
class RotationRun:
    """What one run did: rotations an earlier run left and it finished, each category's
    result, the files held back now, and the categories rotated into the past by force."""

    resumed: list[dict[str, Any]] = field(default_factory=list)
    results: list[CategoryResult] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    forced: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "resumed": self.resumed,
            "categories": [r.as_dict() for r in self.results],
            "held": self.held,
            "forced": self.forced,
        }

    @property
    def changed(self) -> bool:
        return bool(self.resumed or self.held or any(r.action == "rotated" for r in self.results))

    def refused_error(self) -> DataError | None:
        """Exit 65 when a live file is a symbolic link or not a regular file (nothing was
        read, truncated or archived through it; the other categories were rotated)."""
        refused = [(r.category, path) for r in self.results for path in r.refused]
        if not refused:
            return None
        name, path = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        return DataError(
            f"logs.{name}: {path} is not a regular file (a symbolic link?){more}: not rotated",
            hint=f"ncctl reads no live file through a link; point logs.{name}.path at the "
            "real file, or remove what is there",
            code="rotate.not_regular",
        )

    def held_error(self) -> TemporaryError | None:
        """Exit 75 when a file is held back (everything else that could be done is done)."""
        if not self.held:
            return None
        first = self.held[0]
        return TemporaryError(
            f"{len(self.held)} rotated file(s) kept uncompressed: {first['file']} is "
            f"{first['reason']}",
            hint="the file is kept as it is and the next run signals and checks again; see "
            "`ncctl logs status` and the runbook (a rotation held back); never delete it",
            code=HELD_CODE,
        )


def journal_rotation(
    journal: Journal,
    command: str,
    args: list[str],
    *,
    run: RotationRun | None = None,
    refused: RefusedError | None = None,
    reason: str | None = None,
) -> None:
    """One journal line for a rotation run that changed something, was forced, was refused
    (the clock behind the archives), or left a file held back (outcome ``held``: an alert)."""
    if refused is not None:
        journal.append(command, args, "refused", details={"error": refused.as_dict()})
        return
    if run is None or not (run.changed or run.forced):
        return
    details: dict[str, Any] = {
        "rotated": [r.as_dict() for r in run.results if r.action == "rotated"],
        "resumed": len(run.resumed),
    }
    if run.held:
        details["held"] = run.held
    if run.forced:
        details["forced_past"] = run.forced
    journal.append(
        command,
        args,
        "held" if run.held else "ok",
        reason=reason if run.forced else None,
        details=details,
    )
