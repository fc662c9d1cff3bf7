"""Views of ``ncctl metrics``: the Prometheus metrics, printed, or written for node_exporter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.metrics.collector import Scrape


@dataclass(frozen=True)
class MetricsReport:
    scrape: Scrape
    samples: list[dict[str, Any]]
    """Every sample of ``scrape`` as plain data."""
    at: str
    """When they were scraped, ISO 8601 in the schedule's zone."""
    textfile: Path | None
    """Where they were written (``--textfile``), or None: printed."""
    warnings: list[str] = field(default_factory=list)


def text(result: MetricsReport, console: Console, out: OutputOptions) -> None:
    if result.textfile is None:
        console.file.write(result.scrape.text())
        return
    console.print(
        f"wrote {len(result.samples)} samples of {len(result.scrape.families)} metrics "
        f"to {result.textfile}",
        markup=False,
    )


@view(MetricsReport, text)
def data(result: MetricsReport) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "at": result.at,
        "textfile": str(result.textfile) if result.textfile is not None else None,
        "families": len(result.scrape.families),
        "collector_errors": result.scrape.errors,
    }
    doc["samples"] = result.samples
    return doc
