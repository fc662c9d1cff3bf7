"""One host, one state: ncctl run from two directories on the embedded default sees the same
state (``$XDG_STATE_HOME/ncctl``), so `feed status` in one directory knows what `feed start`
did in the other, and a second start does not start a second feed handler.

Real processes: the installed ``ncctl`` script, the real feed handler simulator; the feed
handlers running are counted from /proc by their command line.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ncctl.components.procfs import cmdline, pids, read_stat
from tests.cli.conftest import needs_embedded
from tests.helpers import Outcome, run_process

pytestmark = pytest.mark.slow

TRADING = "2026-11-25T10:00"  # Wednesday: the feed handler is scheduled up


def feed_handlers(state: Path) -> list[int]:
    """Live feed handler simulators whose status file is in ``state``."""
    status = str(state / "run" / "feed_handler.status")
    found = []
    for pid in pids():
        argv = cmdline(pid)
        proc = read_stat(pid)
        if argv[1:3] == ["-m", "ncctl.sim.feed_handler"] and status in argv and proc and proc.alive:
            found.append(pid)
    return found


@pytest.fixture
def two_dirs(tmp_path: Path, private_state_home: Path) -> Iterator[tuple[Path, Path]]:
    """Two empty working directories; the feed handler is stopped afterwards."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    yield a, b
    run_process("feed", "stop", *FORCED, cwd=a)


FORCED = ("--force", "--reason", "two directories, one state")


def feed(cwd: Path, *args: str) -> Outcome:
    return run_process("--clock", TRADING, "feed", *args, "--json", cwd=cwd)


@needs_embedded
def test_start_in_one_directory_status_and_start_in_another(
    two_dirs: tuple[Path, Path], private_state_home: Path
) -> None:
    a, b = two_dirs
    started = feed(a, "start").data()
    assert started["changed"] is True
    assert len(feed_handlers(private_state_home)) == 1

    shown = feed(b, "status").data()
    assert (shown["actual"], shown["drift"]) == ("running", False), shown

    again = feed(b, "start").data()
    assert again["changed"] is False, again
    assert len(feed_handlers(private_state_home)) == 1  # never a second instance

    stopped = feed(b, "stop", *FORCED).data()  # in its hours: a guarded stop
    assert stopped["changed"] is True
    assert feed_handlers(private_state_home) == []
    seen = [feed(cwd, "status").doc()["data"] for cwd in (a, b)]
    assert seen[0] == seen[1] and seen[0]["actual"] == "stopped"

    # everything is in the per-user state directory, private to the user; nothing in a or b
    assert list(a.iterdir()) == [] and list(b.iterdir()) == []
    assert (private_state_home / "journal.jsonl").is_file()
    assert stat.S_IMODE(private_state_home.stat().st_mode) == 0o700
