"""The small supervisor that stands between ncctl and a component run as a process.

``python -m ncctl.components.supervise --pidfile P --exit-file E -- ARGV...``

It detaches (double fork, so that no ncctl process is ever its parent), starts ARGV with the
inherited standard output (the component's log file), writes the pidfile (the component's pid
and start time, and its own), forwards SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 to the
component, and when the component ends writes its exit status to the exit file. That is how
``ncctl feed status`` can report a crash with its exit code although ncctl was not running.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from ncctl import floor
from ncctl.components.procfs import read_stat

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def write_json_atomic(path: Path, doc: dict[str, object]) -> None:
    floor.atomic_write(path, json.dumps(doc).encode(), what="supervisor record")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def run(pidfile: Path, exit_file: Path, argv: list[str]) -> int:
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        sys.stderr.write(f"ncctl supervise: cannot start {argv[0]!r}: {exc.strerror}\n")
        sys.stderr.flush()
        write_json_atomic(
            exit_file,
            {"exit_code": 127, "ended_at": _now(), "pid": None, "error": str(exc.strerror)},
        )
        return 127

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    me = read_stat(os.getpid())
    stat = read_stat(child.pid)
    write_json_atomic(
        pidfile,
        {
            "pid": child.pid,
            "start_ticks": stat.start_ticks if stat else None,
            "supervisor": os.getpid(),
            "supervisor_start_ticks": me.start_ticks if me else None,
            "started_at": _now(),
            "argv": argv,
        },
    )
    code = child.wait()
    write_json_atomic(exit_file, {"exit_code": code, "ended_at": _now(), "pid": child.pid})
    return 0


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ncctl-supervise")
    parser.add_argument("--pidfile", type=Path, required=True)
    parser.add_argument("--exit-file", type=Path, required=True)
    parser.add_argument("--no-detach", action="store_true")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    ns = parser.parse_args(args)
    floor.set_umask()
    argv: list[str] = ns.argv[1:] if ns.argv[:1] == ["--"] else ns.argv
    if not argv:
        parser.error("no command to run")
    if not ns.no_detach and os.fork() > 0:
        # the first child exits at once: the grandchild is adopted by init (or a subreaper)
        os._exit(0)
    return run(ns.pidfile, ns.exit_file, argv)


if __name__ == "__main__":
    raise SystemExit(main())
