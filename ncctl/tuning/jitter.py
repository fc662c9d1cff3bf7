"""``ncctl tune jitter``: how often and how long each CPU is interrupted, measured with
rt-tests' ``cyclictest`` (one measuring thread pinned per CPU, for a bounded time), reported
per CPU from cyclictest's latency histogram, and kept as the last report in
``state_dir/tuning/jitter.json`` for ``tune verify`` and the metrics.

cyclictest runs with ``--default-system``: it measures the host as tuned and never writes
``/dev/cpu_dma_latency`` itself. Latencies are whole microseconds (cyclictest's histogram
buckets); a sample at or above the histogram limit is an overflow, whose exact value is known
only when it is the largest (cyclictest's max)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.errors import (
    DataError,
    NcctlError,
    RefusedError,
    TemporaryError,
    UnavailableError,
    UsageError,
)
from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist

if TYPE_CHECKING:
    from ncctl.schedule import ScheduleEngine

CYCLICTEST = "cyclictest"
PACKAGE = "rt-tests"
DEFAULT_DURATION_S = 10
MAX_DURATION_S = 1800
"""The longest run: half an hour, the daily maintenance window's half."""
DEFAULT_INTERVAL_US = 1000
INTERVAL_RANGE_US = (50, 100_000)
DEFAULT_THRESHOLD_US = 20
HISTOGRAM_LIMIT_US = 10_000
"""Latencies from 10 ms up are counted as overflows."""
PRIORITY = 95
"""SCHED_FIFO priority of the measuring threads (as root; otherwise they run unprivileged)."""
GRACE_S = 30
"""How long cyclictest may take beyond the duration (start-up, writing its results)."""
PERCENTILES = (("p50", Fraction(1, 2)), ("p99", Fraction(99, 100)), ("p99.9", Fraction(999, 1000)))
REPORT_NAME = "jitter.json"
REPORT_VERSION = 1
ROLES = ("housekeeping", "isolated", "other")

_DURATION = re.compile(r"(\d{1,7})\s*(s|m)?")


# -- options ------------------------------------------------------------------------------


def parse_duration(text: str) -> int:
    """``--duration``: whole seconds (``10``, ``10s``) or minutes (``2m``), 1 s to 30 min."""
    found = _DURATION.fullmatch(text.strip())
    seconds = 0 if found is None else int(found.group(1)) * (60 if found.group(2) == "m" else 1)
    if not 1 <= seconds <= MAX_DURATION_S:
        raise UsageError(
            f"--duration {text!r}: expected 1s to {MAX_DURATION_S // 60}m",
            hint="give seconds (10, 10s) or minutes (2m)",
            code="jitter.duration",
        )
    return seconds


def check_range(option: str, value: int, low: int, high: int, unit: str) -> int:
    """``value`` of ``option`` when within [low, high], else a usage error naming it."""
    if not low <= value <= high:
        raise UsageError(
            f"{option} {value}: expected {low} to {high} {unit}",
            hint=f"give {option} between {low} and {high}",
            code="jitter.option",
        )
    return value


def choose_cpus(text: str | None, profile_cpus: CpuSet, usable: CpuSet) -> tuple[CpuSet, list[str]]:
    """The CPUs to measure: ``--cpus`` (every one usable here), else the profile's
    housekeeping and isolated CPUs that are usable here; with the warnings."""
    if text is None:
        chosen = profile_cpus & usable
        warnings = []
        if profile_cpus - usable:
            warnings.append(
                f"CPUs {format_cpulist(profile_cpus - usable)} of the tuning profile are not "
                f"usable here (this process may run on {format_cpulist(usable)}); not measured"
            )
        if not chosen:
            chosen = usable
        return chosen, warnings
    try:
        chosen = parse_cpulist(text)
    except ValueError as exc:
        raise UsageError(
            f"--cpus {text!r}: {exc}", hint='CPU lists look like "0" or "2-7,9"', code="jitter.cpus"
        ) from None
    if not chosen or chosen - usable:
        raise UsageError(
            f"--cpus {text!r}: CPUs {format_cpulist(chosen - usable) or '(none)'} cannot be "
            f"measured here",
            hint=f"choose among the CPUs this process may run on: {format_cpulist(usable)}",
            code="jitter.cpus",
        )
    return chosen, []


# -- the report ---------------------------------------------------------------------------


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


# -- running cyclictest -------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What to measure: the CPUs with their roles, for how long, how."""

    roles: Mapping[int, str]
    main_cpu: int
    """Where cyclictest's main thread runs (a housekeeping CPU)."""
    duration_s: int = DEFAULT_DURATION_S
    interval_us: int = DEFAULT_INTERVAL_US
    threshold_us: int = DEFAULT_THRESHOLD_US
    privileged: bool = False
    """Root: lock memory (-m) and run the threads SCHED_FIFO at :data:`PRIORITY`."""


def roles_of(cpus: Iterable[int], housekeeping: CpuSet, isolated: CpuSet) -> dict[int, str]:
    return {
        cpu: "housekeeping" if cpu in housekeeping else "isolated" if cpu in isolated else "other"
        for cpu in sorted(cpus)
    }


def find_cyclictest(which: Callable[[str], str | None] | None = None) -> str:
    """The cyclictest on ``$PATH``; exit 69 naming the package when there is none."""
    import shutil

    found = (which or shutil.which)(CYCLICTEST)
    if found is None:
        raise UnavailableError(
            f"{CYCLICTEST} is not on PATH: install the Debian package {PACKAGE}",
            hint=f"apt-get install {PACKAGE} (it provides {CYCLICTEST}), then run again",
            code="jitter.no_cyclictest",
        )
    return found


def argv(binary: str, request: Request, json_path: Path, hist_path: Path) -> list[str]:
    """cyclictest's command line: one thread pinned per CPU, for ``duration_s``, a histogram
    up to :data:`HISTOGRAM_LIMIT_US` and the results as JSON."""
    cpus = sorted(request.roles)
    args = [
        binary,
        "--quiet",
        "--default-system",
        f"--affinity={format_cpulist(cpus)}",
        f"--threads={len(cpus)}",
        f"--mainaffinity={request.main_cpu}",
        f"--interval={request.interval_us}",
        f"--duration={request.duration_s}",
        f"--histogram={HISTOGRAM_LIMIT_US}",
        f"--histfile={hist_path}",
        f"--json={json_path}",
    ]
    if request.privileged:
        args += ["--mlockall", f"--priority={PRIORITY}"]
    return args


def run(binary: str, request: Request, now: dt.datetime, forced: str | None = None) -> JitterReport:
    """Run cyclictest for the request, bounded by its duration and :data:`GRACE_S`."""
    import tempfile

    limit = request.duration_s + GRACE_S
    with tempfile.TemporaryDirectory(prefix="ncctl-jitter.") as scratch:
        json_path = Path(scratch) / "cyclictest.json"
        command = argv(binary, request, json_path, Path(scratch) / "histogram.txt")
        try:
            proc = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TemporaryError(
                f"{CYCLICTEST} did not finish within {limit} s; it was stopped",
                hint="the host may be overloaded; try again with a shorter --duration",
                code="jitter.timeout",
            ) from None
        except OSError as exc:
            raise UnavailableError(
                f"{binary}: cannot run: {exc.strerror}",
                hint=f"reinstall the Debian package {PACKAGE}",
                code="jitter.no_cyclictest",
            ) from None
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RefusedError(
                f"{CYCLICTEST} failed (exit {proc.returncode}): "
                f"{lines[-1] if lines else 'no message'}",
                hint="run it as root, on online CPUs; see its message",
                code="jitter.failed",
            )
        try:
            doc = json.loads(json_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise DataError(
                f"cyclictest --json output: unreadable ({exc})",
                hint=f"check that the {PACKAGE} package is version 2.4 or later",
                code="jitter.output",
            ) from None
    version, rows = parse_results(doc, request.roles, request.threshold_us)
    return JitterReport(
        at=now,
        duration_s=request.duration_s,
        interval_us=request.interval_us,
        threshold_us=request.threshold_us,
        histogram_limit_us=HISTOGRAM_LIMIT_US,
        priority=PRIORITY if request.privileged else None,
        cyclictest=version,
        cpus=rows,
        forced=forced,
    )


def privileged() -> bool:
    return os.geteuid() == 0


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


# -- the guarded measurement --------------------------------------------------------------


def busy(engine: ScheduleEngine, now: dt.datetime) -> str | None:
    """Why the host must not be loaded now: inside trading hours (the market open or
    pre-open, or the order session wanted up), or None."""
    from ncctl.tuning.window import trading_window

    window = trading_window(engine, now)
    if not window.inside:
        return None
    until = window.next_outside
    return f"inside trading hours: {window.reason}" + (
        f" until {until.isoformat(timespec='minutes')}" if until is not None else ""
    )


def feed_note(engine: ScheduleEngine, now: dt.datetime) -> str | None:
    """A warning when the market data feed is wanted up now (outside trading hours too, as in
    the daily maintenance window): the measurement shares the host with it."""
    if engine.state_at(now).feed_handler:
        return (
            "the market data feed handler is scheduled up: the measuring threads share the "
            "CPUs with it, and its load shows in the latencies"
        )
    return None


def measure(
    request: Request,
    *,
    state_dir: Path,
    engine: ScheduleEngine,
    now: dt.datetime,
    force: bool = False,
    reason: str | None = None,
) -> JitterReport:
    """Measure (refused, journaled, inside trading hours unless ``force``) with the
    cyclictest on ``$PATH``, keep the report as the last one, journal the run."""
    from ncctl.journal import Journal, journal_path

    journal = Journal(journal_path(state_dir))
    target = {"cpus": format_cpulist(request.roles), "duration_s": request.duration_s}
    why = busy(engine, now)
    if why is not None and not force:
        journal.append("tune jitter", target, "refused", details={"schedule": why})
        raise RefusedError(
            f"tune jitter refused: {why}; it loads every measured CPU",
            hint="run it in the maintenance window or at the weekend, or override with "
            "--force --reason TEXT",
            code="schedule.refused",
        )
    binary = find_cyclictest()
    details: dict[str, Any] = {} if why is None else {"overrides": why}
    try:
        report = run(binary, request, now, forced=reason if why is not None else None)
        path = store(state_dir, report)
    except NcctlError as err:
        journal.append(
            "tune jitter",
            target,
            "failed",
            reason=reason,
            details={**details, "error": err.message},
        )
        raise
    worst = max(report.cpus, key=lambda r: r.max_us)
    details |= {"report": str(path), "worst": {"cpu": worst.cpu, "max_us": worst.max_us}}
    journal.append("tune jitter", target, "ok", reason=reason, details=details)
    return report
