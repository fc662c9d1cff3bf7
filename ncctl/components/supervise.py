"""The small supervisor that stands between ncctl and a component run as a process.

``python -m ncctl.components.supervise --pidfile P --exit-file E --lock-fd N -- ARGV...``

It detaches (the process ncctl started forks and exits, so that no ncctl process is ever the
supervisor's parent), takes the component's instance lock (an exclusive ``flock`` on the lock
file that ncctl opened and passed as descriptor N) and holds it for the component's whole
life, starts ARGV with the inherited standard output (the component's log file), writes the
pidfile (the component's pid and start time, and its own), forwards SIGTERM, SIGINT, SIGHUP,
SIGUSR1 and SIGUSR2 to the component, and when the component ends writes its exit status to
the exit file, then ends (which releases the lock). That is how ``ncctl feed status`` finds
the one running instance through the kernel's lock table whatever the pidfile says, and can
report a crash with its exit code although ncctl was not running. Should the supervisor
itself be killed, the kernel sends the component SIGTERM (PR_SET_PDEATHSIG): no component
runs on unseen.

The process ncctl started exits with the supervisor's verdict: 0 once the lock is held and
the component started (or its start failed: see the exit file), 75 when another instance
holds the lock, 69 when the supervisor died before it could say.
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
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from ncctl import floor
from ncctl.components.procfs import read_stat

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
EXIT_BUSY = 75
EXIT_LOST = 69
PR_SET_PDEATHSIG = 1


def write_json_atomic(path: Path, doc: dict[str, object]) -> None:
    floor.atomic_write(path, json.dumps(doc).encode(), what="supervisor record")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _report(pipe: int | None, code: int) -> None:
    """Tell the waiting first process the verdict (once)."""
    if pipe is not None:
        with contextlib.suppress(OSError):
            os.write(pipe, f"{code}\n".encode())
            os.close(pipe)


def _record_identity(lock_fd: int, doc: dict[str, object]) -> None:
    """Who holds the lock, in the lock file (for people; ncctl asks the kernel)."""
    with contextlib.suppress(OSError):
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, json.dumps(doc).encode() + b"\n", 0)


def _ends_with(supervisor: int) -> Callable[[], None]:
    """Arm the component, between fork and exec, to get SIGTERM when its supervisor dies
    (PR_SET_PDEATHSIG): a killed supervisor leaves no unsupervised component behind."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != supervisor:  # it died before the arming
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def run(
    pidfile: Path, exit_file: Path, argv: list[str], lock_fd: int, pipe: int | None = None
) -> int:
    try:
        taken = floor.try_flock(lock_fd)
    except OSError:
        taken = False
    if not taken:
        sys.stderr.write("ncctl supervise: another instance holds the instance lock\n")
        sys.stderr.flush()
        _report(pipe, EXIT_BUSY)
        return EXIT_BUSY
    os.set_inheritable(lock_fd, False)  # the lock is the supervisor's, not the component's
    try:
        arm = _ends_with(os.getpid())  # the supervisor has one thread: preexec_fn is safe
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=arm)  # noqa: PLW1509
    except OSError as exc:
        sys.stderr.write(f"ncctl supervise: cannot start {argv[0]!r}: {exc.strerror}\n")
        sys.stderr.flush()
        write_json_atomic(
            exit_file,
            {"exit_code": 127, "ended_at": _now(), "pid": None, "error": str(exc.strerror)},
        )
        _report(pipe, 0)
        return 127

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    me = read_stat(os.getpid())
    stat = read_stat(child.pid)
    identity: dict[str, object] = {
        "pid": child.pid,
        "start_ticks": stat.start_ticks if stat else None,
        "supervisor": os.getpid(),
        "supervisor_start_ticks": me.start_ticks if me else None,
        "started_at": _now(),
        "argv": argv,
    }
    _record_identity(lock_fd, identity)
    try:
        write_json_atomic(pidfile, identity)
    except OSError as exc:  # the pidfile is for people: the instance does not depend on it
        sys.stderr.write(f"ncctl supervise: {pidfile}: cannot write the pidfile: {exc.strerror}\n")
        sys.stderr.flush()
    _report(pipe, 0)
    code = child.wait()
    write_json_atomic(exit_file, {"exit_code": code, "ended_at": _now(), "pid": child.pid})
    return 0  # ending releases the lock, after the exit status is on disk


def _relay(pipe: int) -> int:
    """The verdict the detached supervisor writes (EXIT_LOST if it dies first)."""
    data = b""
    while chunk := os.read(pipe, 64):
        data += chunk
        if b"\n" in data or len(data) > 64:
            break
    try:
        return int(data.split(b"\n", 1)[0])
    except ValueError:
        return EXIT_LOST


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ncctl-supervise")
    parser.add_argument("--pidfile", type=Path, required=True)
    parser.add_argument("--exit-file", type=Path, required=True)
    parser.add_argument("--lock-fd", type=int, required=True)
    parser.add_argument("--no-detach", action="store_true")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    ns = parser.parse_args(args)
    floor.set_umask()
    argv: list[str] = ns.argv[1:] if ns.argv[:1] == ["--"] else ns.argv
    if not argv:
        parser.error("no command to run")
    if ns.no_detach:
        return run(ns.pidfile, ns.exit_file, argv, ns.lock_fd)
    verdict, pipe = os.pipe()
    if os.fork() > 0:
        # the first process waits for the verdict and exits: the supervisor is adopted by
        # init (or a subreaper)
        os.close(pipe)
        os._exit(_relay(verdict))
    os.close(verdict)
    return run(ns.pidfile, ns.exit_file, argv, ns.lock_fd, pipe)


if __name__ == "__main__":
    raise SystemExit(main())
