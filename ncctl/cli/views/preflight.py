"""Views of ``ncctl preflight``: one line per check of what the week will need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.errors import NcctlError
    from ncctl.preflight.result import Report

STYLE = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}


@dataclass(frozen=True)
class PreflightReport:
    report: Report
    at: str
    """When the checks ran, ISO 8601 in the schedule's zone."""

    def failure(self) -> NcctlError | None:
        from ncctl.preflight.run import failure

        return failure(self.report)


def text(result: PreflightReport, console: Console, out: OutputOptions) -> None:
    from rich.markup import escape

    counts = result.report.counts()
    console.print(
        f"preflight at {result.at}: "
        + ", ".join(f"{counts[s]} {s}" for s in ("ok", "warn", "fail", "skip"))
    )
    for check in result.report.checks:
        style = STYLE[check.status]
        console.print(
            f"[{style}]{check.status:<4}[/{style}] {escape(check.name)}: {escape(check.detail)}"
        )
        if check.hint and check.status != "ok":
            console.print(f"     hint: {escape(check.hint)}")


@view(PreflightReport, text)
def data(result: PreflightReport) -> dict[str, Any]:
    doc = result.report.as_dict()
    doc["at"] = result.at
    return doc
