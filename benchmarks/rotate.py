"""Rotation cost: O(1) in the file size before compression; compression + sha256 throughput.

Run: ``.venv/bin/python benchmarks/rotate.py [--size-mib N] [--reps N]``

1. The move step: the median time of the ``Rotator`` recording a rotation in the manifest and
   moving the live file into the archive directory (everything before compression starts),
   for a 1 KiB file and for a 1 GiB file, in the same run. Target: ratio 1 GiB / 1 KiB about
   1 (below 3): the rotation renames, it never copies.
2. Compression with hashing: ``ncctl.logs.compress.compress_file(..., "gzip")`` on the same
   data as ``gzip -c FILE | sha256sum`` (the baseline, measured in the same run), both as
   MiB/s of input, and their ratio. Also zstd for reference.

3. The in-use check (``ncctl.logs.inuse.scan``, run before a renamed file is compressed) on
   a host with many processes and open files: ``--processes`` real processes (200 by
   default) holding 10 descriptors each (2,000, on top of the host's own), median of at
   least 20, for a free file (the usual case: the kernel's writer count answers) and for a
   file a process still writes to (every descriptor is searched to name it), each beside
   the move step of a 1 KiB file measured in the same run (ratio). Target: a free file well
   under a millisecond; a held one a few tens of milliseconds at most.

Reports and exits 0 whether targets are met or not; 1 only when a measurement failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from ncctl.appconfig.model import NcctlConfig
from ncctl.floor import file_id
from ncctl.logs.compress import compress_file
from ncctl.logs.inuse import scan
from ncctl.logs.manifest import Manifest
from ncctl.logs.rotation import Rotator
from ncctl.schedule import load_engine

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 25, 16, 5, tzinfo=ZoneInfo("America/Chicago"))


def make_file(path: Path, size: int) -> None:
    """Log-like content (compressible like real logs), written in 8 MiB blocks."""
    line = b"20261125-15:59:59.123,TO CME,OP1,DEV,N,D,ESZ6,12345678,BUY,1,5000.25\n"
    block = line * (8 * 1024 * 1024 // len(line))
    with path.open("wb") as fh:
        left = size
        while left > 0:
            chunk = block[: min(left, len(block))]
            fh.write(chunk)
            left -= len(chunk)


def move_once(root: Path, size: int) -> float:
    """Seconds for the Rotator's move step (the live file becomes the archive) on a fresh
    live file of ``size`` bytes: what happens before compression starts."""
    if root.exists():
        shutil.rmtree(root)
    (root / "live").mkdir(parents=True)
    live = root / "live" / "audit.csv"
    make_file(live, size)
    config = NcctlConfig.model_validate(
        {
            "state_dir": str(root / "state"),
            "logs": {
                "archive_dir": str(root / "archive"),
                "audit": {"path": str(live), "reopen": "self"},
            },
        }
    )
    cat = config.logs.categories()["audit"]
    engine = load_engine(
        REPO / "schedules" / "cme-globex.toml", [REPO / "schedules" / "holidays" / "cme-2026.toml"]
    )
    manifest = Manifest(root / "state" / "manifest.sqlite")
    try:
        rotator = Rotator(config.logs, engine, manifest, NOW, reopen=lambda owner: False)
        archive = rotator._archive_dir("audit") / "audit.20261125.csv"
        t0 = time.perf_counter()
        with manifest.transaction():
            row = manifest.add_file(
                "audit",
                trade_date="2026-11-25",
                live_path=str(live),
                archive_path=str(archive),
                final_path=str(archive) + ".gz",
                empty=False,
            )
        rotator._move("audit", cat, row)
        manifest.set_file_state(row.id, "rotated")
        elapsed = time.perf_counter() - t0
    finally:
        manifest.close()
    if not archive.is_file() or archive.stat().st_size != size:
        raise RuntimeError("the move step did not produce the archive")
    return elapsed


def hold_descriptors(base: Path, processes: int) -> list[subprocess.Popen[bytes]]:
    """``processes`` real processes (sleep), each with 7 files of its own open for appending
    besides its standard streams: 10 descriptors each."""
    (base / "held").mkdir()
    procs = []
    for n in range(processes):
        opens = " ".join(f"{fd}>>'{base / 'held' / f'{n}.{fd}'}'" for fd in range(3, 10))
        procs.append(
            subprocess.Popen(
                ["sh", "-c", f"exec {opens}; exec sleep 600"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        )
    return procs


def wait_for_descriptors(procs: list[subprocess.Popen[bytes]], count: int) -> None:
    """Until every process holds ``count`` descriptors (at most 30 s)."""
    deadline = time.monotonic() + 30
    for proc in procs:
        while len(list(Path(f"/proc/{proc.pid}/fd").iterdir())) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"pid {proc.pid} did not open its files")
            time.sleep(0.01)


def descriptors_on_host() -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                total += len(list((entry / "fd").iterdir()))
            except OSError:
                continue
    return total


def in_use_once(archive: Path, held: bool) -> float:
    """Seconds for one check of ``archive``, which a process holds for writing or not."""
    fid = file_id(archive)
    if fid is None:
        raise RuntimeError(f"{archive} is not a regular file")
    t0 = time.perf_counter()
    usage = scan({fid: archive})
    elapsed = time.perf_counter() - t0
    if usage.free(fid) == held or (held and "pid" not in usage.reason(fid)):
        raise RuntimeError(f"{archive}: wrong answer: {usage.reason(fid) or 'free'}")
    return elapsed


def bench_in_use(base: Path, processes: int, reps: int, small_ms: float) -> None:
    """Report the in-use check's cost, free and held, beside the move step (``small_ms``)."""
    procs = hold_descriptors(base, processes)
    try:
        archive = base / "inuse.csv"
        make_file(archive, 1024)
        wait_for_descriptors(procs, 10)
        fds = descriptors_on_host()
        free_t = [in_use_once(archive, held=False) for _ in range(reps)]
        with archive.open("ab"):  # now a writer holds it: /proc is searched to name it
            held_t = [in_use_once(archive, held=True) for _ in range(reps)]
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
    free_ms = statistics.median(free_t) * 1000
    held_ms = statistics.median(held_t) * 1000
    print(
        f"in-use check among {processes} extra processes, {fds} descriptors on the "
        f"host (median of {reps}):"
    )
    print(f"  file free (the kernel counts no writer): {free_ms:8.3f} ms")
    print(f"  file held (every descriptor searched):   {held_ms:8.3f} ms")
    print(f"ratio in-use check / move step (1 KiB), free: {free_ms / small_ms:.3f}")
    print(f"ratio in-use check / move step (1 KiB), held: {held_ms / small_ms:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="large file size (MiB)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each rotation")
    parser.add_argument(
        "--processes", type=int, default=200, help="processes holding files for the in-use check"
    )
    args = parser.parse_args(argv)
    big = args.size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="ncctl-bench-rotate-") as tmp:
        base = Path(tmp)
        small_t = [move_once(base / "small", 1024) for _ in range(args.reps)]
        big_t = [move_once(base / "big", big) for _ in range(args.reps)]
        small_ms = statistics.median(small_t) * 1000
        big_ms = statistics.median(big_t) * 1000
        ratio = big_ms / small_ms
        print(f"move step, 1 KiB live file:          {small_ms:8.2f} ms median of {args.reps}")
        print(f"move step, {args.size_mib} MiB live file: {big_ms:8.2f} ms median of {args.reps}")
        verdict = "PASS" if ratio < 3 else "FAIL"
        print(f"ratio large / small: {ratio:.2f}  (target: about 1, below 3)  {verdict}")
        shutil.rmtree(base / "big")

        bench_in_use(base, args.processes, max(args.reps, 20), small_ms)

        # compression + sha256 throughput
        src = base / "compress-src.csv"
        make_file(src, min(big, 256 * 1024 * 1024))
        mib = src.stat().st_size / (1024 * 1024)
        t0 = time.perf_counter()
        compress_file(src, base / "out.gz", "gzip")
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        done = subprocess.run(
            f"gzip -6 -c '{src}' | sha256sum", shell=True, capture_output=True, check=False
        )
        theirs = time.perf_counter() - t0
        if done.returncode != 0:
            print("baseline `gzip -c | sha256sum` failed", file=sys.stderr)
            return 1
        t0 = time.perf_counter()
        compress_file(src, base / "out.zst", "zstd")
        zstd_t = time.perf_counter() - t0
        print(f"gzip+sha256 ncctl:            {mib / ours:8.1f} MiB/s of input")
        print(f"gzip -6 -c | sha256sum:       {mib / theirs:8.1f} MiB/s of input (baseline)")
        print(f"ratio ncctl / baseline:       {theirs / ours:8.2f}")
        print(f"zstd+sha256 ncctl:            {mib / zstd_t:8.1f} MiB/s of input")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
