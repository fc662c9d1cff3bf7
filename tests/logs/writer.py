"""A log writer for the rotation fault tests: appends numbered rows to a live file until told
to stop, and reopens the file by path on SIGHUP (or late, or never).

``python writer.py --path LIVE --count-dir DIR --ready FILE [--rate N]
[--on-hup reopen|late:SECONDS|ignore]``

Each row is ``RUN,SEQ\\n`` (RUN is this process's pid, SEQ counts from 1), written with one
``write`` on an ``O_APPEND`` descriptor. After each row, SEQ is stored as 8 bytes at offset 0
of ``DIR/RUN.count``, so that a test knows how many rows were written even when the writer is
SIGKILLed (at most one more row than the count: killed between the two writes). SIGHUP opens
the path anew, then closes the old descriptor (``late:S``: S seconds after the signal;
``ignore``: never). SIGTERM ends the run after the current row, exit status 0. The ready
file is written once the live file is open.
"""

from __future__ import annotations

import argparse
import os
import signal
import struct
import time
from types import FrameType

FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class State:
    hup_at: float | None = None
    stop = False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", required=True)
    parser.add_argument("--count-dir", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--on-hup", default="reopen")
    args = parser.parse_args()
    delay = 0.0
    if args.on_hup.startswith("late:"):
        delay = float(args.on_hup.split(":", 1)[1])
    state = State()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        if state.hup_at is None:
            state.hup_at = time.monotonic()

    def on_term(signum: int, frame: FrameType | None) -> None:
        state.stop = True

    signal.signal(signal.SIGHUP, signal.SIG_IGN if args.on_hup == "ignore" else on_hup)
    signal.signal(signal.SIGTERM, on_term)
    run = os.getpid()
    counter = os.open(
        os.path.join(args.count_dir, f"{run}.count"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
    )
    fd = os.open(args.path, FLAGS, 0o640)
    with open(args.ready, "w") as ready:
        ready.write(f"{run}\n")
    started = time.monotonic()
    seq = 0
    while not state.stop:
        now = time.monotonic()
        if state.hup_at is not None and now >= state.hup_at + delay:
            state.hup_at = None
            new = os.open(args.path, FLAGS, 0o640)
            os.close(fd)
            fd = new
        if seq >= (now - started) * args.rate:
            time.sleep(0.001)
            continue
        seq += 1
        os.write(fd, f"{run},{seq}\n".encode())
        os.pwrite(counter, struct.pack("<Q", seq), 0)
    os.close(fd)
    os.close(counter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
