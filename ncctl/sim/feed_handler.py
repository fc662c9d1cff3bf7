"""Feed-handler simulator: reports the scheduled market state as a live feed handler would.

``python -m ncctl.sim.feed_handler --status-file PATH [--template FILE] [--holidays FILE ...]
[--interval S] [--clock ISO [--speed N]]``

It builds the schedule engine from a weekly template and holiday tables: ``--template`` and
``--holidays`` (a file, or the name of one shipped with ncctl such as ``cme-globex`` or
``cme-2026``), else the files listed in ``$NCCTL_SCHEDULE_FILES`` (a JSON array, template
first, then the holiday tables; ncctl sets it for the components it starts, from its
``[schedule]``), else the shipped ``cme-globex`` template with every shipped holiday table.
Every ``--interval`` seconds (default 1) it replaces the status file atomically with one JSON
object::

    {"pid": 4242, "at": "2026-11-25T17:30:00.000-06:00", "market_state": "OPEN",
     "l3_loop": "off", "feed_handler": "on", "trade_date": "2026-11-26", "seq": 17}

``at`` is the clock's instant in the schedule's zone, ``seq`` counts the writes from 1. The
simulator is a running feed handler, so ``feed_handler`` is always ``on`` and ``l3_loop`` is
``on`` exactly when the market is CLOSED (docs/design.md §2.2), whatever the schedule says about
when the feed handler should run: that is for ncctl to compare. A market transition due
before the next interval ends wakes it early, so the file follows transitions promptly.

The clock is the system clock, or with ``--clock ISO`` (an aware ISO 8601 instant) a
simulated clock starting there and running ``--speed`` times real time.

It logs one line on standard output at start and at each change of market state or L3 loop.
SIGTERM or SIGINT: logs ``stopping`` and exits 0 within milliseconds, leaving the status file
in place. Exit status 78 when a schedule file is missing or invalid, 73 when the status file cannot
be written, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncctl.sim import SignalWatch, log, positive, write_atomic_text
from ncctl.sim_interface import SCHEDULE_FILES_ENV, parse_schedule_files

if TYPE_CHECKING:
    from ncctl.clock import Clock
    from ncctl.schedule import ScheduleEngine, ScheduleSnapshot

PROG = "feed_handler"
EXIT_CANTCREAT = 73
DEFAULT_TEMPLATE = "cme-globex"
#: extra real time slept past a transition, so that the clock is surely beyond it on waking
_TRANSITION_SLACK_S = 0.002


def _aware_instant(text: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset (write it like 2026-11-25T17:30-06:00)"
        )
    return at


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ncctl.sim.feed_handler",
        description="Simulated feed handler: writes the scheduled market state to a status file.",
    )
    parser.add_argument("--status-file", type=Path, required=True, help="JSON status file")
    parser.add_argument(
        "--template",
        default=None,
        metavar="FILE",
        help=f"weekly template, a file or a shipped name (default ${SCHEDULE_FILES_ENV}'s "
        "first file, else cme-globex)",
    )
    parser.add_argument(
        "--holidays",
        nargs="*",
        default=None,
        metavar="FILE",
        help="holiday tables, files or shipped names (default with --template: none; "
        f"without: the rest of ${SCHEDULE_FILES_ENV}, else every shipped table)",
    )
    parser.add_argument(
        "--interval", type=positive, default=1.0, help="seconds between writes (default 1)"
    )
    parser.add_argument(
        "--clock", type=_aware_instant, default=None, help="start a simulated clock here"
    )
    parser.add_argument(
        "--speed", type=positive, default=None, help="simulated clock speed (needs --clock)"
    )
    args = parser.parse_args(argv)
    if args.speed is not None and args.clock is None:
        parser.error("--speed needs --clock")
    return args


def _schedule_file(value: str, builtin: Callable[[str], Path]) -> Path:
    """A file named on the command line: a path when it ends in ``.toml``, else shipped."""
    return Path(value) if value.endswith(".toml") else builtin(value)


def schedule_files(args: argparse.Namespace) -> tuple[Path, list[Path], str]:
    """The template, the holiday tables and where they came from: the options, else
    ``$NCCTL_SCHEDULE_FILES``, else the shipped template and holiday tables. ConfigError
    for a variable that does not list files."""
    from ncctl.errors import ConfigError
    from ncctl.resources import builtin_holidays, builtin_schedule, data_dir

    if args.template is not None or args.holidays is not None:
        template = _schedule_file(args.template or DEFAULT_TEMPLATE, builtin_schedule)
        holidays = [_schedule_file(h, builtin_holidays) for h in args.holidays or []]
        return template, holidays, "options"
    listed = os.environ.get(SCHEDULE_FILES_ENV, "")
    if listed:
        try:
            template, holidays = parse_schedule_files(listed)
        except ValueError as exc:
            raise ConfigError(
                f"${SCHEDULE_FILES_ENV} {exc}: {listed[:200]!r}",
                hint='set it like ["/path/week.toml", "/path/holidays-2026.toml"], or unset it',
            ) from None
        return template, holidays, f"${SCHEDULE_FILES_ENV}"
    shipped = sorted((data_dir("schedules") / "holidays").glob("*.toml"))
    return builtin_schedule(DEFAULT_TEMPLATE), shipped, "shipped"


def status_document(state: ScheduleSnapshot, seq: int) -> dict[str, Any]:
    """The status file's content for one scheduled state."""
    closed = state.market_state == "CLOSED"
    return {
        "pid": os.getpid(),
        "at": state.at.isoformat(timespec="milliseconds"),
        "market_state": state.market_state,
        "l3_loop": "on" if closed else "off",
        "feed_handler": "on",
        "trade_date": state.trade_date.isoformat(),
        "seq": seq,
    }


def _next_wait(engine: ScheduleEngine, now: dt.datetime, interval: float, speed: float) -> float:
    """Real seconds to sleep: the interval, or less when a market transition comes first."""
    upcoming = engine.next_transitions(now, 1, prefix="market.", horizon_weeks=2)
    if not upcoming:
        return interval
    until = (upcoming[0].at - now).total_seconds() / speed + _TRANSITION_SLACK_S
    return max(0.0, min(interval, until))


def run(
    *,
    status_file: Path,
    engine: ScheduleEngine,
    clock: Clock,
    interval: float,
    speed: float,
    watch: SignalWatch,
) -> int:
    """Write the status file until SIGTERM or SIGINT; the exit status."""
    seq = 0
    last: tuple[str, str] | None = None
    while not watch.seen(signal.SIGTERM, signal.SIGINT):
        now = clock.now()
        state = engine.state_at(now)
        seq += 1
        doc = status_document(state, seq)
        try:
            write_atomic_text(status_file, json.dumps(doc) + "\n")
        except OSError as exc:
            log(PROG, f"{status_file}: cannot write the status file: {exc.strerror}", error=True)
            return EXIT_CANTCREAT
        current = (doc["market_state"], doc["l3_loop"])
        if current != last:
            log(
                PROG,
                f"market {doc['market_state']}, l3_loop {doc['l3_loop']} at {doc['at']} "
                f"(trade date {doc['trade_date']})",
            )
            last = current
        watch.wait(_next_wait(engine, now, interval, speed))
    log(PROG, f"stopping (after {seq} status writes)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    watch = SignalWatch((signal.SIGTERM, signal.SIGINT))
    try:
        from ncctl.clock import CLOCK_FILE_ENV, SimulatedClock, SystemClock, clock_from_env
        from ncctl.errors import NcctlError
        from ncctl.schedule import load_engine

        clock: Clock
        shared = clock_from_env()
        if shared is not None:
            # a shared simulated clock may pause and jump: look at it often
            speed = 1.0
            clock = shared
            args.interval = min(args.interval, 0.05)
            described = f"shared simulated clock {os.environ.get(CLOCK_FILE_ENV)}"
        elif args.clock is not None:
            speed = args.speed or 1.0
            clock = SimulatedClock(args.clock, speed)
            described = f"simulated from {args.clock.isoformat()} at {speed:g}x"
        else:
            speed = 1.0
            clock = SystemClock()
            described = "system"
        try:
            template, holidays, source = schedule_files(args)
            engine = load_engine(template, holidays)
        except NcctlError as exc:
            hint = f" (hint: {exc.hint})" if exc.hint else ""
            log(PROG, f"{exc.message}{hint}", error=True)
            return exc.exit_code
        status_file: Path = args.status_file
        try:
            status_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log(PROG, f"{status_file.parent}: cannot create: {exc.strerror}", error=True)
            return EXIT_CANTCREAT
        log(
            PROG,
            f"starting: status file {status_file}, schedule {template} with "
            f"{len(holidays)} holiday tables ({source}), clock {described}, "
            f"interval {args.interval:g} s",
        )
        return run(
            status_file=status_file,
            engine=engine,
            clock=clock,
            interval=args.interval,
            speed=speed,
            watch=watch,
        )
    finally:
        watch.close()


if __name__ == "__main__":
    sys.exit(main())
