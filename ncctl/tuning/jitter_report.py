"""The report of ``ncctl tune jitter``: per CPU, the samples, percentiles, max and the count
above a threshold, computed from cyclictest's ``--json`` histogram; and the last report, kept
in ``state_dir/tuning/jitter.json`` for ``tune verify`` and the metrics
(:func:`jitter_status`, read-only).

Latencies are whole microseconds (cyclictest's histogram buckets); a sample at or above the
histogram limit is an overflow, whose exact value is known only when it is the largest
(cyclictest's max)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ncctl.errors import DataError
from ncctl.tuning.cpuset import format_cpulist

PACKAGE = "rt-tests"
HISTOGRAM_LIMIT_US = 10_000
"""Latencies from 10 ms up are counted as overflows."""
PERCENTILES = (("p50", Fraction(1, 2)), ("p99", Fraction(99, 100)), ("p99.9", Fraction(999, 1000)))
REPORT_NAME = "jitter.json"
REPORT_VERSION = 1
ROLES = ("housekeeping", "isolated", "other")


@dataclass(frozen=True)
class CpuJitter:
    """One CPU's latencies (µs) over a run."""

    cpu: int
    role: str
    samples: int
    min_us: int
    avg_us: float
    percentiles: dict[str, int | None]
    """p50, p99, p99.9: None when the rank falls among overflows below the largest."""
    max_us: int
    above_threshold: int
    overflows: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu,
            "role": self.role,
            "samples": self.samples,
            "min_us": self.min_us,
            "avg_us": self.avg_us,
            "percentiles_us": dict(self.percentiles),
            "max_us": self.max_us,
            "above_threshold": self.above_threshold,
            "overflows": self.overflows,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> CpuJitter:
        return cls(
            cpu=int(doc["cpu"]),
            role=str(doc["role"]),
            samples=int(doc["samples"]),
            min_us=int(doc["min_us"]),
            avg_us=float(doc["avg_us"]),
            percentiles={
                str(k): None if v is None else int(v) for k, v in doc["percentiles_us"].items()
            },
            max_us=int(doc["max_us"]),
            above_threshold=int(doc["above_threshold"]),
            overflows=int(doc["overflows"]),
        )


@dataclass(frozen=True)
class JitterReport:
    """One run of ``tune jitter``: its settings and a row per CPU."""

    at: dt.datetime
    duration_s: int
    interval_us: int
    threshold_us: int
    histogram_limit_us: int
    priority: int | None
    """SCHED_FIFO priority of the measuring threads; None: unprivileged."""
    cyclictest: str
    cpus: tuple[CpuJitter, ...]
    forced: str | None = None
    """The reason given with --force inside trading hours."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "at": self.at.isoformat(timespec="seconds"),
            "duration_s": self.duration_s,
            "interval_us": self.interval_us,
            "threshold_us": self.threshold_us,
            "histogram_limit_us": self.histogram_limit_us,
            "priority": self.priority,
            "cyclictest": self.cyclictest,
            "forced": self.forced,
            "cpus": [row.as_dict() for row in self.cpus],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> JitterReport:
        if doc.get("version") != REPORT_VERSION:
            raise ValueError(f"version {doc.get('version')!r}, expected {REPORT_VERSION}")
        return cls(
            at=dt.datetime.fromisoformat(str(doc["at"])),
            duration_s=int(doc["duration_s"]),
            interval_us=int(doc["interval_us"]),
            threshold_us=int(doc["threshold_us"]),
            histogram_limit_us=int(doc["histogram_limit_us"]),
            priority=None if doc["priority"] is None else int(doc["priority"]),
            cyclictest=str(doc["cyclictest"]),
            cpus=tuple(CpuJitter.from_dict(row) for row in doc["cpus"]),
            forced=None if doc.get("forced") is None else str(doc["forced"]),
        )

    def summary(self) -> str:
        """One line: per role, the worst p99 and max; the samples above the threshold."""
        parts = []
        for role in ROLES:
            rows = [r for r in self.cpus if r.role == role]
            if rows:
                worst = max(rows, key=lambda r: r.max_us)
                p99 = [r.percentiles.get("p99") for r in rows]
                shown = (
                    f">={self.histogram_limit_us}"
                    if None in p99
                    else str(max(p for p in p99 if p is not None))
                )
                parts.append(
                    f"{role} {format_cpulist(r.cpu for r in rows)} p99 {shown} µs, max "
                    f"{worst.max_us} µs (CPU {worst.cpu})"
                )
        above = sum(r.above_threshold for r in self.cpus)
        samples = sum(r.samples for r in self.cpus)
        return (
            f"jitter measured {self.at.isoformat(timespec='seconds')} for {self.duration_s} s: "
            f"{'; '.join(parts)}; {above} of {samples} samples above {self.threshold_us} µs"
        )


def percentile(
    histogram: Mapping[int, int], overflows: int, max_us: int, q: Fraction
) -> int | None:
    """The nearest-rank ``q`` percentile of the samples a histogram counts: the value of the
    sample of rank ceil(q·n) in ascending order. A rank among the overflows is the largest
    sample (``max_us``) when it is the last rank, unknown (None) otherwise."""
    total = sum(histogram.values()) + overflows
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return max_us if rank == total else None


def cpu_row(
    cpu: int,
    role: str,
    histogram: Mapping[int, int],
    *,
    overflows: int,
    stats: Mapping[str, Any],
    threshold_us: int,
) -> CpuJitter:
    """One CPU's row from its histogram, overflows and cyclictest's min, avg and max."""
    return CpuJitter(
        cpu=cpu,
        role=role,
        samples=sum(histogram.values()) + overflows,
        min_us=int(stats["min"]),
        avg_us=round(float(stats["avg"]), 2),
        percentiles={
            name: percentile(histogram, overflows, int(stats["max"]), q) for name, q in PERCENTILES
        },
        max_us=int(stats["max"]),
        above_threshold=sum(n for b, n in histogram.items() if b > threshold_us) + overflows,
        overflows=overflows,
    )


def parse_results(
    doc: Any, roles: Mapping[int, str], threshold_us: int
) -> tuple[str, tuple[CpuJitter, ...]]:
    """cyclictest's ``--json`` document: its version and a row per CPU of ``roles`` (every
    one must have been measured). DataError naming what is wrong otherwise."""
    try:
        threads = doc["thread"]
        version = str(doc.get("rt_test_version:", doc.get("rt_test_version", "?")))
        rows: dict[int, CpuJitter] = {}
        for thread in threads.values():
            cpu = int(thread["cpu"])
            histogram = {int(b): int(n) for b, n in thread.get("histogram", {}).items()}
            if any(n < 0 for n in histogram.values()):
                raise ValueError("a negative histogram count")
            overflows = int(thread["cycles"]) - sum(histogram.values())
            if overflows < 0:
                raise ValueError(f"thread on CPU {cpu}: more histogram samples than cycles")
            if cpu in roles:
                rows[cpu] = cpu_row(
                    cpu,
                    roles[cpu],
                    histogram,
                    overflows=overflows,
                    stats=thread,
                    threshold_us=threshold_us,
                )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(
            f"cyclictest --json output: unexpected content ({type(exc).__name__}: {exc})",
            hint=f"check that the {PACKAGE} package is version 2.4 or later",
            code="jitter.output",
        ) from None
    missing = set(roles) - set(rows)
    if missing:
        raise DataError(
            f"cyclictest measured no thread on CPUs {format_cpulist(missing)}",
            hint="check that those CPUs are online and this process may run on them",
            code="jitter.output",
        )
    order = sorted(rows.values(), key=lambda r: (ROLES.index(r.role), r.cpu))
    return version, tuple(order)


# -- the last report ----------------------------------------------------------------------


def report_path(state_dir: Path) -> Path:
    from ncctl.tuning.rollback_journal import tuning_dir

    return tuning_dir(state_dir) / REPORT_NAME


def store(state_dir: Path, report: JitterReport) -> Path:
    """Keep ``report`` as the last one (atomic, mode 0600)."""
    from ncctl import floor
    from ncctl.errors import CantCreateError

    path = report_path(state_dir)
    floor.ensure_dir(path.parent, "tuning state directory")
    text = json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n"
    try:
        floor.atomic_write(path, text.encode("utf-8"), what="jitter report", mode=0o600)
    except OSError as exc:
        raise CantCreateError(
            f"{path}: cannot write the jitter report: {exc.strerror}",
            hint="check that the state directory is writable and has free space",
        ) from None
    return path


@dataclass(frozen=True)
class JitterStatus:
    """The last stored report, or why there is none."""

    path: Path
    report: JitterReport | None
    problem: str | None = None

    @property
    def summary(self) -> str:
        if self.report is not None:
            return self.report.summary()
        return self.problem or "jitter never measured (run `ncctl tune jitter`)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "measured": self.report is not None,
            "at": None if self.report is None else self.report.at.isoformat(timespec="seconds"),
            "summary": self.summary,
        }


def jitter_status(state_dir: Path) -> JitterStatus:
    """The last report ``tune jitter`` stored; reads only, never raises for a bad file (the
    problem is said instead)."""
    from ncctl import floor

    path = report_path(state_dir)
    try:
        with floor.open_file(path, "rb", what="jitter report") as fh:
            raw = fh.read(1 << 20)
    except FileNotFoundError:
        return JitterStatus(path, None)
    except (OSError, DataError) as exc:
        why = exc.message if isinstance(exc, DataError) else exc.strerror
        return JitterStatus(path, None, f"jitter report {path} unreadable: {why}")
    try:
        return JitterStatus(path, JitterReport.from_dict(json.loads(raw)))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return JitterStatus(path, None, f"jitter report {path} unreadable: {exc}")
