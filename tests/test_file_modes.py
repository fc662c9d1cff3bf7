"""The modes of everything ncctl creates in a rotate + upload + journal + component start/stop
cycle, whatever the umask it is started with: files 0640 at most, directories 0750 at most;
only the node_exporter textfile is world-readable (0644), since it is meant to be read."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.logs.helpers import run, write_config

pytestmark = pytest.mark.slow

SLEEP = '["{python}", "-m", "ncctl.sim.idle"]'  # a simulator: a development setup
FEED_HOURS = "2026-11-25T10:00"


def cycle(root: Path, umask: int) -> Path:
    """Run the cycle under ``umask``; the textfile's path."""
    root.mkdir()
    extra = f"[components.feed_handler]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
    config = write_config(root, extra=extra)
    (root / "live" / "audit.csv").write_bytes(b"row\n")
    prom = root / "ncctl.prom"

    with_umask = ("sh", "-c", f'umask {umask:03o} && exec "$@"', "sh")

    steps: list[tuple[str, ...]] = [
        ("logs", "rotate"),
        ("logs", "upload"),
        ("feed", "start"),
        ("feed", "stop", "--force", "--reason", "a test of file modes"),
        ("metrics", "--textfile", str(prom)),
    ]
    try:
        for step in steps:
            clock = FEED_HOURS if step[0] == "feed" else "2026-11-25T16:05"
            code, doc, err = run(config, *step, clock=clock, wrapper=with_umask)
            assert code == 0, (step, doc, err)
    finally:
        run(config, "feed", "stop", "--force", "--reason", "test teardown", clock=FEED_HOURS)
    return prom


@pytest.mark.parametrize("umask", [0o022, 0o002], ids=["umask022", "umask002"])
def test_nothing_ncctl_creates_is_readable_by_others(tmp_path: Path, umask: int) -> None:
    root = tmp_path / "site"
    prom = cycle(root, umask)
    seen: dict[str, int] = {}
    for top in ("state", "archive", "outbox"):
        for path in [root / top, *(root / top).rglob("*")]:
            seen[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    files = {p: m for p, m in seen.items() if not (root / p).is_dir()}
    dirs = {p: m for p, m in seen.items() if (root / p).is_dir()}
    # the cycle really made what is checked: archives, sidecars, uploads, journal, locks,
    # databases, the component's pidfile and log
    made = {Path(p).name for p in files}
    for name in ("journal.jsonl", "manifest.sqlite", "logs.lock", "feed_handler.log"):
        assert name in made, sorted(made)
    assert any(p.startswith("outbox/fcm/") and p.endswith(".gz") for p in files), files
    assert any(p.endswith(".gz.sha256") for p in files), files
    too_open = {p: oct(m) for p, m in files.items() if m & 0o137}
    assert too_open == {}  # 0640 at most
    assert {p: oct(m) for p, m in dirs.items() if m & 0o027} == {}  # 0750 at most
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644
