"""Startup time of ``ncctl schedule now --json`` against a one-command Typer app.

Run: ``.venv/bin/python benchmarks/startup.py [--runs N]``

Both are run as subprocesses of the same interpreter (this script's ``sys.executable``, so the
project's virtualenv), interleaved and in alternating order, and their median wall times
compared. Target: ncctl / baseline <= 1.2, and ``schedule now --json`` imports neither paramiko
nor APScheduler (docs/design.md §3.2, rule 6). Prints a report and exits 0 whether the target
is met or not; exits 1 only when a measurement could not be made.

Both run from compiled bytecode, as an installed ncctl does (installing compiles it): the
bytecode of both is written once, by the warm-up runs, to a private cache in a temporary
directory (``PYTHONPYCACHEPREFIX``; ``PYTHONDONTWRITEBYTECODE`` is dropped). Otherwise a
development tree under ``PYTHONDONTWRITEBYTECODE=1`` compiles every ncctl module from source
on every run while the baseline's libraries have their bytecode, and the ratio measures the
compiler (about 0.15 more). ncctl also gets a validated-schedule cache of its own there
(``NCCTL_CACHE_DIR``), filled by its warm-up run. ``--as-is`` keeps this environment's
settings instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_RATIO = 1.2
MUST_NOT_IMPORT = ("paramiko", "apscheduler")
WATCHED = ("paramiko", "apscheduler", "rich", "pydantic", "typer")
REPO = Path(__file__).resolve().parents[1]

BASELINE_APP = """\
import typer

app = typer.Typer()


@app.command()
def now(json: bool = False) -> None:
    print('{"ok": true}')


if __name__ == "__main__":
    app()
"""


class MeasurementError(Exception):
    pass


def _env(pycache: Path | None) -> dict[str, str]:
    """The environment of the measured runs: with ``pycache``, bytecode is written there (once,
    by the warm-up runs) and read from there; without, this environment's settings."""
    env = dict(os.environ)
    for name in ("PYTHONPROFILEIMPORTTIME", "PYTHONDEVMODE", "PYTHONTRACEMALLOC"):
        env.pop(name, None)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
        # its own validated-schedule cache: other ncctl trees sharing ~/.cache/ncctl evict
        # entries (it keeps 32), and a miss validates the configuration
        env["NCCTL_CACHE_DIR"] = str(pycache.parent / "ncctl-cache")
    return env


def run_once(argv: Sequence[str], env: dict[str, str]) -> float:
    """Wall time of one run, in seconds; the run must succeed and print a JSON ``ok`` document."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise MeasurementError(
            f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}"
        )
    try:
        doc = json.loads(proc.stdout)
    except ValueError as exc:
        raise MeasurementError(f"{' '.join(argv)} printed no JSON: {proc.stdout[:200]!r}") from exc
    if not (isinstance(doc, dict) and doc.get("ok") is True):
        raise MeasurementError(f"{' '.join(argv)} did not report ok: {proc.stdout[:200]!r}")
    return elapsed


def measure(
    ncctl: list[str], baseline: list[str], runs: int, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    """``runs`` timings of each, interleaved: A B, B A, A B, ... after one warm-up run each."""
    run_once(ncctl, env)
    run_once(baseline, env)
    a: list[float] = []
    b: list[float] = []
    for i in range(runs):
        if i % 2 == 0:
            a.append(run_once(ncctl, env))
            b.append(run_once(baseline, env))
        else:
            b.append(run_once(baseline, env))
            a.append(run_once(ncctl, env))
    return a, b


def imported_packages(python: str, env: dict[str, str]) -> dict[str, float]:
    """Top-level packages imported by ``python -X importtime -m ncctl schedule now --json``,
    with their cumulative import time in ms (the largest entry of each package)."""
    argv = [python, "-X", "importtime", "-m", "ncctl", "schedule", "now", "--json"]
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MeasurementError(f"{' '.join(argv)} exited {proc.returncode}")
    found: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header line
        top = parts[2].strip().split(".")[0]
        found[top] = max(found.get(top, 0.0), int(parts[1]) / 1000)
    if "ncctl" not in found:
        raise MeasurementError("-X importtime reported no ncctl import")
    return found


def _summary(label: str, samples: list[float]) -> str:
    med, low, high = (x * 1000 for x in (statistics.median(samples), min(samples), max(samples)))
    return f"{label:<12}{med:7.1f} ms median  (min {low:.1f}, max {high:.1f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=21, help="runs of each (default: 21)")
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="keep this environment's bytecode settings and whatever bytecode is on disk",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    python = sys.executable
    ncctl_script = Path(python).parent / "ncctl"
    if not ncctl_script.exists():
        print(
            f"startup: no {ncctl_script}; install the project in this virtualenv", file=sys.stderr
        )
        return 1

    with tempfile.TemporaryDirectory(prefix="ncctl-bench-") as tmp:
        baseline_py = Path(tmp) / "baseline_app.py"
        baseline_py.write_text(BASELINE_APP, encoding="utf-8")
        ncctl_argv = [str(ncctl_script), "schedule", "now", "--json"]
        baseline_argv = [python, str(baseline_py), "--json"]
        env = _env(None if args.as_is else Path(tmp) / "pycache")
        try:
            a, b = measure(ncctl_argv, baseline_argv, args.runs, env)
            imports = imported_packages(python, env)
        except (MeasurementError, OSError) as exc:
            print(f"startup: measurement failed: {exc}", file=sys.stderr)
            return 1

    med_a, med_b = statistics.median(a), statistics.median(b)
    ratio = med_a / med_b
    print(f"python      {python} ({sys.version.split()[0]}), {os.cpu_count()} CPUs")
    print(f"runs        {args.runs} each, interleaved, after one warm-up each")
    bytecode = "as found (--as-is)" if args.as_is else "compiled once by the warm-up (private)"
    print(f"bytecode    {bytecode}; schedule cache {'as found' if args.as_is else 'private'}")
    print(_summary("ncctl", a))
    print(_summary("baseline", b))
    print("            baseline: one-command Typer app, same interpreter")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio       {ratio:.2f}  (target <= {TARGET_RATIO})  {verdict}")

    print("imports of `ncctl schedule now --json` (cumulative ms, from -X importtime):")
    for name in WATCHED:
        shown = f"imported  {imports[name]:6.1f} ms" if name in imports else "not imported"
        print(f"  {name:<12}{shown}")
    bad = [name for name in MUST_NOT_IMPORT if name in imports]
    if bad:
        print(f"imports     FAIL: {', '.join(bad)} imported (target: none of {MUST_NOT_IMPORT})")
    else:
        print(f"imports     PASS: none of {', '.join(MUST_NOT_IMPORT)} imported")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
