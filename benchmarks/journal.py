"""Journal append cost: independent of the journal's size and of its last line's size.

Run: ``.venv/bin/python benchmarks/journal.py [--gib N] [--reps N]``

1. One append to a 1 GiB journal against one append to an empty journal, in the same run
   (median of ``--reps`` appends each; the empty journal is a fresh state directory every
   time, with its anchor database already created, so both sides do the same work).
   Target: ratio 1 GiB / empty <= 2. The 1 GiB journal is real (no holes): 16 valid lines of
   64 MiB each, appended through ``Journal.append``.
2. One append after a 20 MB last line: with the anchor (the usual case), and with the anchor
   deleted, so that the head is re-derived by reading the last line backward (linear in that
   line, not in the file).

Reports and exits 0 whether the target is met or not; 1 only when a measurement failed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ncctl.journal import Journal, verify
from ncctl.journal.anchor import Anchor, anchor_path

MIB = 1024 * 1024
TARGET = 2.0


def timed_append(journal: Journal) -> float:
    started = time.perf_counter()
    journal.append("feed stop", ["--reason=benchmark"], "ok")
    return time.perf_counter() - started


def empty_appends(root: Path, reps: int) -> list[float]:
    times = []
    for i in range(reps):
        state = root / f"empty{i}"
        state.mkdir()
        Anchor.open(state).close()
        times.append(timed_append(Journal(state / "journal.jsonl")))
        shutil.rmtree(state)
    return times


def build(state: Path, total: int, line: int) -> Journal:
    journal = Journal(state / "journal.jsonl")
    pad = "x" * (line - 600)
    while not journal.path.exists() or journal.path.stat().st_size < total:
        journal.append("bench fill", [], "ok", details={"pad": pad})
    return journal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ncctl-journal-bench-", dir="/var/tmp") as tmp:
        root = Path(tmp)
        (root / "big").mkdir()
        started = time.perf_counter()
        big = build(root / "big", int(args.gib * 1024 * MIB), 64 * MIB)
        size = big.path.stat().st_size
        print(f"built a {size / MIB:.0f} MiB journal in {time.perf_counter() - started:.1f} s")
        empty: list[float] = []
        large: list[float] = []
        for _ in range(args.reps):  # interleaved, so that both see the same machine
            empty += empty_appends(root, 1)
            large.append(timed_append(big))
        e, g = statistics.median(empty), statistics.median(large)
        ratio = g / e
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(f"append to an empty journal:   median {e * 1e3:8.2f} ms over {args.reps}")
        print(
            f"append to a {size / MIB:.0f} MiB journal: median {g * 1e3:8.2f} ms over {args.reps}"
        )
        print(f"ratio: {ratio:.2f} (target <= {TARGET:g}) {verdict}")
        shutil.rmtree(root / "big")

        (root / "tail").mkdir()
        tail = Journal(root / "tail" / "journal.jsonl")
        tail.append("small", [], "ok")
        tail.append("huge", [], "ok", details={"pad": "y" * (20 * 1000 * 1000)})
        anchored = timed_append(tail)
        tail.append("huge", [], "ok", details={"pad": "y" * (20 * 1000 * 1000)})
        anchor_path(root / "tail").unlink()
        rederived = timed_append(tail)
        print(f"append after a 20 MB last line, anchored:             {anchored * 1e3:8.2f} ms")
        print(f"append after a 20 MB last line, anchor deleted (read): {rederived * 1e3:8.2f} ms")
        if not verify(tail.path).ok:
            print("the journal did not verify after the benchmark", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
