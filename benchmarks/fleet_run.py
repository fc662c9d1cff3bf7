"""Wall time of a fleet run (rollout.yml and gather.yml) for 5 and for 20 hosts, per host.

Run as root: ``.venv/bin/python benchmarks/fleet_run.py [--sizes 5 20] [--forks 20]``

Starts the test fleet of tests/fleet (one sshd per host on 127.0.0.1, each in its own mount
namespace), installs the artifact on it once, then times a second rollout (nothing changes: the
cost of checking) and a gather, for each size. The baseline, measured in the same run, is one
host: the report prints each size's time and its ratio per host to the one-host time (1.0
would be perfect parallelism; the number of hosts would be none). A report, not a test: exits
0 unless a run failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fleet.ansible import run_playbook, write_inventory
from tests.fleet.artifact import build_bundle
from tests.fleet.hosts import FleetHost, fleet_unavailable, make_keys, start_host


def timed(playbook: str, inventory: Path, workdir: Path, forks: int) -> float:
    start = time.monotonic()
    run = run_playbook(playbook, inventory, workdir, forks=forks)
    elapsed = time.monotonic() - start
    if run.code != 0:
        raise SystemExit(f"{playbook} failed ({run.code}): {run.out[-2000:]}{run.err[-1000:]}")
    return elapsed


def measure(size: int, artifact: Path, forks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ncctl-fleet-bench-") as scratch:
        workdir = Path(scratch)
        keys = make_keys(workdir)
        hosts: list[FleetHost] = []
        try:
            for n in range(1, size + 1):
                hosts.append(
                    start_host(f"h{n}", keys.client_public, keys.host_key, keys.host_public)
                )
            inventory = write_inventory(workdir, hosts, keys, artifact=artifact)
            install = timed("install.yml", inventory, workdir, forks)
            first = timed("rollout.yml", inventory, workdir, forks)
            return {
                "install": install,
                "rollout (first)": first,
                "rollout (again)": timed("rollout.yml", inventory, workdir, forks),
                "gather": timed("gather.yml", inventory, workdir, forks),
            }
        finally:
            for host in hosts:
                host.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--forks", type=int, default=20)
    args = parser.parse_args()
    reason = fleet_unavailable()
    if reason is not None:
        print(f"cannot measure: {reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="ncctl-fleet-dist-") as dist:
        artifact = build_bundle(Path(dist))
        baseline = measure(1, artifact, args.forks)
        results = {size: measure(size, artifact, args.forks) for size in args.sizes}
    print(f"forks={args.forks}; seconds (per host / one-host time)")
    print(f"{'hosts':>5}  " + "  ".join(f"{k:>22}" for k in baseline))
    print(f"{1:>5}  " + "  ".join(f"{v:>22.1f}" for v in baseline.values()))
    for size, row in results.items():
        cells = [f"{row[k]:7.1f} ({row[k] / size / baseline[k]:.2f}/host)" for k in baseline]
        print(f"{size:>5}  " + "  ".join(f"{c:>22}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
