"""Shared pieces of the logs tests: a configuration in a temporary directory, a runner on
tests/helpers.py, data helpers."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.helpers import run_process

if TYPE_CHECKING:
    from ncctl.logs.manifest import Manifest

AFTER_WEDNESDAY_CLOSE = "2026-11-25T16:05"
TRADE_DATE = "20261125"
NO_DAC_OVERRIDE = (
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
    "--",
)
"""Run as root without the capabilities that let root ignore file modes."""
FORCED = ("--force", "--reason", "a test setup that is more than a development one")
"""For a state-changing command on a simulated clock when the configuration is not a
development one (a component that is not a simulator, an SFTP destination)."""


def write_config(
    root: Path,
    *,
    mode: str = "rename",
    compress: str = "gzip",
    owner: str | None = None,
    destinations: Mapping[str, str] | None = None,
    extra: str = "",
    retain_days: int = 1830,
    audit: str = "",
) -> Path:
    """A development config under ``root``: one `audit` category, local destinations fcm and
    client, simulators, a tuning root that is not the machine's (so ``--clock`` may act).

    Without an owner, a renamed audit file is left to reopen by itself (``reopen = "self"``);
    ``audit`` adds lines to the ``[logs.audit]`` table."""
    dests = dict(destinations or {"fcm": "outbox/fcm", "client": "outbox/client"})
    owner_line = f'owner = "{owner}"\n' if owner else ""
    if owner is None and mode == "rename" and 'reopen = "' not in audit:
        owner_line = 'reopen = "self"\n'
    text = (
        f'state_dir = "{root / "state"}"\n'
        "[logs]\n"
        f'archive_dir = "{root / "archive"}"\n'
        "lock_timeout_s = 0.5\n"
        "[logs.audit]\n"
        f'path = "{root / "live" / "audit.csv"}"\n'
        f'mode = "{mode}"\n'
        f'compress = "{compress}"\n'
        f"{owner_line}"
        f"destinations = {json.dumps(list(dests))}\n"
        f"retain_days = {retain_days}\n"
        f"{audit}"
    )
    for name, rel in dests.items():
        text += f'[destinations.{name}]\nurl = "file://{root / rel}"\nbackoff_s = 0.0\n'
    if "[tuning]" not in extra:  # a development setup: a simulated clock may change its state
        text += f'[tuning]\nroot = "{root / "tuning-root"}"\n'
    path = root / "ncctl.toml"
    path.write_text(text + extra)
    (root / "live").mkdir(exist_ok=True)
    return path


def run(
    config: Path,
    *args: str,
    clock: str = AFTER_WEDNESDAY_CLOSE,
    env: Mapping[str, str] | None = None,
    wrapper: tuple[str, ...] = (),
    clock_free: bool = False,
    json_flag: bool = True,
) -> tuple[int, dict[str, Any], str]:
    """`ncctl --config CONFIG --clock CLOCK ARGS --json` as a real process through
    :func:`tests.helpers.run_process` (without --clock when ``clock_free``; without --json when
    not ``json_flag``): its exit code, JSON document (empty without one) and stderr."""
    pinned = () if clock_free else ("--clock", clock)
    tail = ("--json",) if json_flag else ()
    done = run_process(
        "--config",
        config,
        *pinned,
        *args,
        *tail,
        cwd=Path.cwd(),
        columns=os.environ.get("COLUMNS"),
        env=env,
        wrapper=wrapper,
        timeout_s=120,
    )
    doc = done.json() if json_flag and done.out.strip() else {}
    return done.code, doc, done.err


def gunzip(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def tree(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` (relative name -> bytes)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith((".sqlite-wal", ".sqlite-shm"))
    }


def add_archive(
    manifest: Manifest, root: Path, trade_date: str, size: int, destinations: list[str]
) -> int:
    """Record a compressed audit archive of ``size`` bytes for ``trade_date`` (files under
    ``root``), queued for ``destinations``; its file id."""
    row = manifest.add_file(
        "audit",
        trade_date=trade_date,
        live_path=str(root / "live" / "audit.csv"),
        archive_path=str(root / "archive" / f"audit.{trade_date}.csv"),
        final_path=str(root / "archive" / f"audit.{trade_date}.csv.gz"),
        empty=False,
    )
    manifest.set_file_state(row.id, "compressed", size=size, sha256="0" * 64)
    manifest.ensure_uploads(row.id, destinations)
    return row.id
