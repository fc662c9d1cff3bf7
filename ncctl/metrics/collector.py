"""Collecting: every source at each scrape, merged into one exposition.

A source that raises is skipped and reported as ``ncctl_collector_errors{source} 1``: nothing
fails the whole scrape.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from ncctl.errors import NcctlError
from ncctl.metrics.families import default_sources, flag, gauge
from ncctl.metrics.sources import MetricSources, ScrapeContext, Source

if TYPE_CHECKING:
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.schedule import ScheduleEngine


class _Fixed:
    """A collector of families computed once."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return list(self.families)


@dataclass(frozen=True)
class Scrape:
    """The families of one collection, and each failed source with its error."""

    at: dt.datetime
    families: list[Metric]
    errors: dict[str, str]

    def text(self) -> str:
        """The Prometheus text exposition format (what node_exporter's textfile reads)."""
        return generate_latest(_Fixed(self.families)).decode("utf-8")

    def samples(self) -> list[dict[str, Any]]:
        """Every sample as plain data: name, labels, value (None if not finite), type."""
        return [
            {
                "name": s.name,
                "labels": dict(s.labels),
                "value": s.value if math.isfinite(s.value) else None,
                "type": fam.type,
            }
            for fam in self.families
            for s in fam.samples
        ]


def _error_text(exc: Exception) -> str:
    if isinstance(exc, NcctlError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


class NcctlCollector:
    """A prometheus_client collector that computes every family at each scrape."""

    def __init__(
        self,
        config: NcctlConfig,
        engine: ScheduleEngine,
        now: dt.datetime | Callable[[], dt.datetime],
        *,
        sources: MetricSources | None = None,
        source_list: Sequence[tuple[str, Source]] | None = None,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self._now = now
        self.sources = sources or MetricSources()
        self.source_list = list(source_list) if source_list is not None else default_sources()
        self.on_error = on_error

    def now(self) -> dt.datetime:
        return self._now() if callable(self._now) else self._now

    def scrape(self) -> Scrape:
        ctx = ScrapeContext(self.config, self.engine, self.now(), self.sources)
        merged: dict[str, Metric] = {}
        errors: dict[str, str] = {}
        seconds: dict[str, float] = {}
        for name, source in self.source_list:
            started = time.perf_counter()
            try:
                families = source(ctx)
                _merge(merged, families)
            except Exception as exc:  # a broken source never fails the scrape
                errors[name] = _error_text(exc)
                if self.on_error is not None:
                    self.on_error(name, errors[name])
            seconds[name] = time.perf_counter() - started
        failed = gauge(
            "ncctl_collector_errors",
            "1 when the source failed during this collection (its metrics are left out).",
            ["source"],
        )
        took = gauge(
            "ncctl_collector_duration_seconds", "How long the source took to collect.", ["source"]
        )
        for name, _ in self.source_list:
            failed.add_metric([name], flag(name in errors))
            took.add_metric([name], seconds[name])
        return Scrape(ctx.now, [*merged.values(), failed, took], errors)

    def collect(self) -> Iterable[Metric]:
        return self.scrape().families


def _merge(merged: dict[str, Metric], families: Sequence[Metric]) -> None:
    """Add a source's families; one whose name another source used with another type is
    a defect of that source (nothing of it is added)."""
    for fam in families:
        other = merged.get(fam.name)
        if other is not None and other.type != fam.type:
            raise ValueError(f"{fam.name} is a {other.type} elsewhere, here a {fam.type}")
    for fam in families:
        other = merged.get(fam.name)
        if other is None:
            merged[fam.name] = fam
        else:
            other.samples.extend(fam.samples)


def collect(
    config: NcctlConfig,
    engine: ScheduleEngine,
    now: dt.datetime | Callable[[], dt.datetime],
    *,
    sources: MetricSources | None = None,
    on_error: Callable[[str, str], None] | None = None,
) -> CollectorRegistry:
    """A registry holding ncctl's collector; ``now`` is a time, or a clock read at every
    scrape (the daemon passes ``clock.now``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NcctlCollector(config, engine, now, sources=sources, on_error=on_error))
    return registry
