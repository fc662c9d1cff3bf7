"""An idle component: up until SIGTERM or SIGINT (exit 0), or ``--max-s`` seconds.

A stand-in for a component whose work does not matter (tests of starting, stopping and
reconciling), that still makes a development configuration: it runs as
``python -m ncctl.sim.idle`` like the other simulators.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

from ncctl.sim import log

PROG = "idle"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ncctl.sim.idle", description=__doc__)
    parser.add_argument(
        "--max-s", type=float, default=3600.0, help="exit after this many seconds at most"
    )
    args = parser.parse_args(argv)
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    log(PROG, "up")
    got = signal.sigtimedwait(stop, max(args.max_s, 0.0))
    log(PROG, f"stopping on {signal.Signals(got.si_signo).name}" if got else "time is up")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
