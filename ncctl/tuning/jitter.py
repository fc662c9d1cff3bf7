"""``ncctl tune jitter``: how often and how long each CPU is interrupted, measured with
rt-tests' ``cyclictest`` (one measuring thread pinned per CPU, for a bounded time), reported
per CPU (:mod:`ncctl.tuning.jitter_report`), and kept as the last report; refused inside
trading hours unless forced.

cyclictest runs with ``--default-system``: it measures the host as tuned and never writes
``/dev/cpu_dma_latency`` itself."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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
from ncctl.tuning.jitter_report import (
    HISTOGRAM_LIMIT_US,
    PACKAGE,
    JitterReport,
    parse_results,
    store,
)

if TYPE_CHECKING:
    from ncctl.schedule import ScheduleEngine

CYCLICTEST = "cyclictest"
DEFAULT_DURATION_S = 10
MAX_DURATION_S = 1800
"""The longest run: half an hour, the daily maintenance window's half."""
DEFAULT_INTERVAL_US = 1000
INTERVAL_RANGE_US = (50, 100_000)
DEFAULT_THRESHOLD_US = 20
PRIORITY = 95
"""SCHED_FIFO priority of the measuring threads (as root; otherwise they run unprivileged)."""
GRACE_S = 30
"""How long cyclictest may take beyond the duration (start-up, writing its results)."""

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
