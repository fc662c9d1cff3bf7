"""``ncctl metrics``: the Prometheus metrics, printed or written for node_exporter."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt

if TYPE_CHECKING:
    from rich.console import Console


def metrics(
    textfile: Annotated[
        Path | None,
        typer.Option(
            "--textfile",
            help="Write node_exporter's textfile format to PATH (atomically: a temporary file "
            "in the same directory, then a rename) instead of printing the metrics. Name it "
            "*.prom inside the textfile collector's directory.",
            metavar="PATH",
            dir_okay=False,
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Print the Prometheus metrics (text exposition format), or write them with --textfile.

    A source that fails is left out and reported in ncctl_collector_errors; exit 0 still.
    """
    from ncctl.metrics import NcctlCollector, write_textfile

    output.begin("metrics", json)
    if textfile is not None:  # what node_exporter publishes: the real alerting reads it
        STATE.changing(
            "metrics --textfile",
            hint="drop --clock to write the textfile; without --textfile the metrics at the "
            "simulated time are printed",
        )
    loaded = STATE.config()
    engine = STATE.engine()
    now = STATE.now()
    scrape = NcctlCollector(loaded.config, engine, now, loaded.path).scrape()
    warnings = engine.coverage_warnings(now, now)
    warnings += [f"metrics source {name} failed: {err}" for name, err in scrape.errors.items()]
    if textfile is not None:
        if not textfile.name.endswith(".prom"):
            warnings.append(f"{textfile}: node_exporter's textfile collector reads only *.prom")
        write_textfile(textfile, scrape)
    samples = scrape.samples()
    data: dict[str, Any] = {
        "at": scrape.at.astimezone(engine.zone).isoformat(timespec="seconds"),
        "textfile": str(textfile) if textfile is not None else None,
        "families": len(scrape.families),
        "collector_errors": scrape.errors,
    }
    if output.structured():
        data["samples"] = samples

    def draw(console: Console) -> None:
        if textfile is None:
            console.file.write(scrape.text())
            return
        console.print(
            f"wrote {len(samples)} samples of {len(scrape.families)} metrics to {textfile}",
            markup=False,
        )

    output.emit(data, draw, warnings=warnings)
