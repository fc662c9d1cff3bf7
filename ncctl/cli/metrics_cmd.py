"""``ncctl metrics``: the Prometheus metrics, printed or written for node_exporter."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.metrics import MetricsReport


@command(None, "metrics")
def metrics(
    ctx: CommandContext,
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
) -> MetricsReport:
    """Print the Prometheus metrics (text exposition format), or write them with --textfile.

    A source that fails is left out and reported in ncctl_collector_errors; exit 0 still.
    """
    from ncctl.cli.views.metrics import MetricsReport
    from ncctl.metrics.collector import NcctlCollector
    from ncctl.metrics.textfile import write_textfile

    if textfile is not None:  # what node_exporter publishes: the real alerting reads it
        ctx.changing(
            action="metrics --textfile",
            hint="drop --clock to write the textfile; without --textfile the metrics at the "
            "simulated time are printed",
        )
    loaded = ctx.config()
    engine = ctx.engine()
    now = ctx.now()
    scrape = NcctlCollector(loaded.config, engine, now).scrape()
    warnings = engine.coverage_warnings(now, now)
    warnings += [f"metrics source {name} failed: {err}" for name, err in scrape.errors.items()]
    if textfile is not None:
        if not textfile.name.endswith(".prom"):
            warnings.append(f"{textfile}: node_exporter's textfile collector reads only *.prom")
        write_textfile(textfile, scrape)
    return MetricsReport(
        scrape,
        scrape.samples(),
        scrape.at.astimezone(engine.zone).isoformat(timespec="seconds"),
        textfile,
        warnings,
    )
