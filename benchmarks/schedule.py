"""Time to compute one year of schedule transitions with a cold engine.

Run: ``.venv/bin/python benchmarks/schedule.py [--reps N]``

The schedule files (schedules/cme-globex.toml and the 2026 and 2027 holiday tables) are read
once. Each repetition then builds a fresh ``ScheduleEngine`` from the loaded template and
holiday calendar, so its week cache is empty, and asks it for every transition from
2026-01-01 to 2027-01-01 (America/Chicago); the time measured covers both. Target: median
<= 20 ms.

Baseline, measured in the same run and interleaved with it: a bare loop that builds as many
zoneinfo-aware datetimes as there are transitions (``datetime.combine(day, time,
tzinfo=ZoneInfo)`` then ``.timestamp()``, what the engine does once per transition), so that a
slow machine shows as a slow baseline rather than as a slow engine. Prints a report and exits
0 whether the target is met or not; exits 1 only when a measurement could not be made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from ncctl.schedule import CompiledTemplate, HolidayCalendar, ScheduleEngine, load_engine

TARGET_MS = 20.0
REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "schedules" / "cme-globex.toml"
HOLIDAYS = [
    REPO / "schedules" / "holidays" / "cme-2026.toml",
    REPO / "schedules" / "holidays" / "cme-2027.toml",
]
ZONE = ZoneInfo("America/Chicago")
START = dt.datetime(2026, 1, 1, tzinfo=ZONE)
END = dt.datetime(2027, 1, 1, tzinfo=ZONE)


def year_of_transitions(template: CompiledTemplate, holidays: HolidayCalendar) -> tuple[float, int]:
    """Seconds to build a fresh engine and compute START..END, and the transitions found."""
    t0 = time.perf_counter()
    engine = ScheduleEngine(template, holidays)
    found = engine.transitions(START, END)
    return time.perf_counter() - t0, len(found)


def aware_datetimes(n: int) -> float:
    """Seconds to build ``n`` zoneinfo-aware datetimes across the year and take their instants."""
    combine = dt.datetime.combine
    first = START.date()
    days = [first + dt.timedelta(days=i % 365) for i in range(n)]
    clock = dt.time(16, 0)
    t0 = time.perf_counter()
    for day in days:
        combine(day, clock, tzinfo=ZONE).timestamp()
    return time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=31, help="repetitions (default: 31)")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be at least 1")

    try:
        loaded = load_engine(TEMPLATE, HOLIDAYS)
    except Exception as exc:
        print(f"schedule: cannot load the schedule files: {exc}", file=sys.stderr)
        return 1
    template, holidays = loaded.template, loaded.holidays
    if loaded.coverage_warnings(START, END - dt.timedelta(microseconds=1)):
        print("schedule: the holiday tables do not cover 2026", file=sys.stderr)
        return 1

    _, count = year_of_transitions(template, holidays)  # warm-up: imports, zoneinfo cache
    aware_datetimes(count)
    engine_s: list[float] = []
    base_s: list[float] = []
    for i in range(args.reps):
        if i % 2:
            base_s.append(aware_datetimes(count))
        elapsed, n = year_of_transitions(template, holidays)
        if n != count:
            print(f"schedule: repetition {i} found {n} transitions, not {count}", file=sys.stderr)
            return 1
        engine_s.append(elapsed)
        if not i % 2:
            base_s.append(aware_datetimes(count))

    engine_ms = statistics.median(engine_s) * 1000
    base_ms = statistics.median(base_s) * 1000
    print(f"python       {sys.executable} ({sys.version.split()[0]})")
    print(f"span         {START.isoformat()} .. {END.isoformat()} ({ZONE.key})")
    print(f"transitions  {count}")
    print(
        f"engine       {engine_ms:7.2f} ms median of {args.reps} "
        f"(min {min(engine_s) * 1000:.2f}, max {max(engine_s) * 1000:.2f}), fresh engine each"
    )
    print(
        f"baseline     {base_ms:7.2f} ms median: {count} aware datetimes built "
        "(combine + .timestamp())"
    )
    print(f"ratio        {engine_ms / base_ms:.1f}x baseline")
    verdict = "PASS" if engine_ms <= TARGET_MS else "FAIL"
    print(f"target       engine <= {TARGET_MS:.0f} ms  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
