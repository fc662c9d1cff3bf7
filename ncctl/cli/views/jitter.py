"""Views of ``ncctl tune jitter``: per CPU, housekeeping and isolated side by side, the
samples, latency percentiles, max and the count above the threshold."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import Column, print_table, view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.tuning.jitter_report import JitterReport

COLUMNS = (
    Column("cpu"),
    Column("role"),
    Column("samples"),
    Column("min", wide_only=True),
    Column("avg", wide_only=True),
    Column("p50"),
    Column("p99"),
    Column("p99.9"),
    Column("max"),
    Column("above"),
    Column("overflows", wide_only=True),
)


@dataclass(frozen=True)
class JitterRun:
    report: JitterReport
    stored: Path
    """Where the report is kept as the last one."""
    warnings: list[str] = field(default_factory=list)


def _us(value: int | None, limit: int) -> str:
    return f">={limit}" if value is None else str(value)


def text(result: JitterRun, console: Console, out: OutputOptions) -> None:
    from ncctl.tuning.cpuset import format_cpulist

    report = result.report
    priority = "unprivileged" if report.priority is None else f"SCHED_FIFO {report.priority}"
    console.print(
        f"jitter of CPUs {format_cpulist(r.cpu for r in report.cpus)} for {report.duration_s} s "
        f"(interval {report.interval_us} µs, {priority}, cyclictest {report.cyclictest}); "
        f"latencies in µs, above: samples over {report.threshold_us} µs",
        markup=False,
    )
    limit = report.histogram_limit_us
    rows = [
        (
            str(r.cpu),
            r.role,
            str(r.samples),
            str(r.min_us),
            f"{r.avg_us:.1f}",
            *(_us(r.percentiles.get(name), limit) for name in ("p50", "p99", "p99.9")),
            str(r.max_us),
            str(r.above_threshold),
            str(r.overflows),
        )
        for r in report.cpus
    ]
    print_table(COLUMNS, rows, console, out.wide)
    console.print(f"kept as the last report in {result.stored}", markup=False)


@view(JitterRun, text)
def data(result: JitterRun) -> dict[str, Any]:
    return {**result.report.as_dict(), "stored": str(result.stored)}
