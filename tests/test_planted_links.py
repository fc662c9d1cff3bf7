"""Symbolic links planted where ncctl reads or writes (live logs, locks, the journal, the
databases, temporary names, the archive and outbox directories), against real runs of the
command: each is refused (or, for a temporary name ncctl chooses itself, ignored), nothing is
read or written through it, and its target (a root-only 0600 file, or a 0700 directory) is
unchanged, bytes and mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.logs.helpers import AFTER_WEDNESDAY_CLOSE, TRADE_DATE, run, write_config

SECRET = b"root-only secret\n"
SLEEP = '["{python}", "-m", "ncctl.sim.idle"]'  # a simulator: a development setup
SATURDAY = "2026-11-28T12:00"  # nothing to start: a maintenance pass only checks
FEED_HOURS = "2026-11-25T10:00"
NAME = f"audit.{TRADE_DATE}.csv"
ARCHIVE = f"archive/audit/{NAME}.gz"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="a root-only target needs root"),
]


def snapshot(path: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry under ``path`` (itself included): uid, mode, bytes."""
    out = {}
    for p in [path, *sorted(path.rglob("*"))] if path.is_dir() else [path]:
        st = p.lstat()
        data = p.read_bytes() if stat.S_ISREG(st.st_mode) else b""
        out[str(p.relative_to(path.parent))] = (st.st_uid, st.st_mode, data)
    return out


@dataclass
class Site:
    root: Path
    config: Path
    outside: Path

    def plant(self, rel: str, *, directory: bool = False) -> Path:
        """A link at ``rel`` to a root-only target outside the site; the target's path."""
        target = self.outside / ("dir" if directory else "file")
        if directory:
            target.mkdir(mode=0o700)
            (target / "kept").write_bytes(SECRET)
        else:
            target.write_bytes(SECRET)
        target.chmod(0o700 if directory else 0o600)
        link = self.root / rel
        link.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        if link.is_file():
            link.unlink()  # the live file: the link replaces it
        link.symlink_to(target)
        return target


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    extra = f"[components.feed_handler]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
    (tmp_path / "site").mkdir()
    config = write_config(tmp_path / "site", extra=extra, mode="rename")
    (tmp_path / "site" / "live" / "audit.csv").write_bytes(b"row\n")
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    yield Site(tmp_path / "site", config, outside)
    run(config, "feed", "stop", "--force", "--reason", "test teardown", clock=FEED_HOURS)


def copytruncate(site: Site) -> None:
    text = site.config.read_text().replace('mode = "rename"', 'mode = "copytruncate"')
    site.config.write_text(text.replace('reopen = "self"\n', ""))


def rotated(site: Site) -> None:
    code, doc, _ = run(site.config, "logs", "rotate")
    assert code == 0, doc


Command = tuple[str, ...]
# name: (where the link is, a directory?, set-up before planting, the command, exit codes)
CASES: dict[str, tuple[str, bool, Callable[[Site], None] | None, Command, set[int]]] = {
    "live file (rename)": ("live/audit.csv", False, None, ("logs", "rotate"), {65}),
    "live file (copytruncate)": (
        "live/audit.csv",
        False,
        copytruncate,
        ("logs", "rotate"),
        {65},
    ),
    "live file (dry run)": ("live/audit.csv", False, None, ("logs", "rotate", "--dry-run"), {65}),
    "logs lock": ("state/locks/logs.lock", False, None, ("logs", "rotate"), {65}),
    "logs lock (dry run)": (
        "state/locks/logs.lock",
        False,
        None,
        ("logs", "rotate", "--dry-run"),
        {0},  # a dry run takes no lock: the link is not even opened
    ),
    "runner lock": ("state/locks/runner.lock", False, None, ("maintenance", "run"), {65}),
    "component lock": ("state/run/feed_handler.lock", False, None, ("feed", "start"), {65}),
    "journal": ("state/journal.jsonl", False, None, ("logs", "rotate"), {65}),
    "compression temp file": (
        f"archive/audit/.{NAME}.gz.tmp",
        False,
        None,
        ("logs", "rotate"),
        {0},
    ),
    "outbox .part": (
        f"outbox/fcm/{NAME}.gz.part",
        False,
        rotated,
        ("logs", "upload"),
        {1},  # that destination failed, naming the link
    ),
    "manifest": ("state/manifest.sqlite", False, None, ("logs", "rotate"), {65}),
    "party database": ("state/party.sqlite", False, None, ("metrics", "--textfile"), {0, 65}),
    "runner database": ("state/runner.sqlite", False, None, ("maintenance", "run"), {65}),
    "archive directory": ("archive/audit", True, None, ("logs", "rotate"), {65}),
    "outbox directory": ("outbox/fcm", True, rotated, ("logs", "upload"), {1}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_planted_link_is_never_followed(site: Site, case: str) -> None:
    rel, directory, prepare, command, codes = CASES[case]
    for sub in ("state", "state/locks", "state/run"):
        (site.root / sub).mkdir(mode=0o750, exist_ok=True)
    if prepare is not None:
        prepare(site)
    target = site.plant(rel, directory=directory)
    live_before = snapshot(site.root / "live")
    before = snapshot(target)
    args = list(command)
    if command == ("metrics", "--textfile"):
        args.append(str(site.root / "ncctl.prom"))
    clock = {"feed": FEED_HOURS, "maintenance": SATURDAY}.get(command[0], AFTER_WEDNESDAY_CLOSE)
    code, doc, err = run(site.config, *args, clock=clock)
    assert code in codes, (doc, err)
    if code:
        assert str(site.root / rel) in doc["error"]["message"], doc
    assert snapshot(target) == before  # nothing written through the link
    assert (site.root / rel).is_symlink()
    assert SECRET.decode() not in str(doc) + err  # nothing read through it
    if command[0] == "logs" and codes == {65} and rel.startswith(("live", "archive", "state")):
        assert snapshot(site.root / "live") == live_before  # not moved, not truncated
    for p in site.root.rglob("*"):  # no archive, upload or record became a link
        assert not p.is_symlink() or p == site.root / rel, p


def test_a_link_beside_the_live_file_does_not_stop_the_other_categories(site: Site) -> None:
    text = site.config.read_text().replace(
        "[destinations.",
        f'[logs.trade]\npath = "{site.root / "live" / "trade.log"}"\n'
        'reopen = "self"\ndestinations = []\n[destinations.',
        1,
    )
    site.config.write_text(text)
    (site.root / "live" / "trade.log").write_bytes(b"trade\n")
    (site.root / "live" / "audit.csv").unlink()
    target = site.plant("live/audit.csv")
    code, doc, _ = run(site.config, "logs", "rotate")
    assert code == 65, doc
    by_name = {c["category"]: c for c in doc["data"]["categories"]}
    assert by_name["audit"]["action"] == "refused"
    assert by_name["trade"]["action"] == "rotated"
    assert target.read_bytes() == SECRET and stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("service_user", [None, "nobody"])
def test_a_state_directory_of_another_user_is_refused_unless_it_is_the_service_account(
    site: Site, service_user: str | None
) -> None:
    state = site.root / "state"
    state.mkdir(mode=0o750)
    os.chown(state, 65534, 65534)  # nobody: the service account only when configured so
    if service_user is not None:
        site.config.write_text(site.config.read_text() + f'[systemd]\nuser = "{service_user}"\n')
    code, doc, err = run(site.config, "logs", "rotate")
    if service_user is None:
        assert code == 77, (doc, err)
        assert doc["error"]["code"] == "file.unsafe_directory"
        assert str(state) in doc["error"]["message"]
        assert (site.root / "live" / "audit.csv").read_bytes() == b"row\n"  # not rotated
        assert not (state / "manifest.sqlite").exists()
        assert not (state / "journal.jsonl").exists()
    else:
        assert code == 0, (doc, err)


@pytest.mark.parametrize(
    "command",
    [("logs", "rotate"), ("logs", "upload"), ("logs", "prune"), ("config", "set", "x", "y")],
)
def test_a_linked_journal_stops_the_action_before_it_is_taken(site: Site, command: Command) -> None:
    """An action the journal could not record is not taken: nothing rotated, uploaded,
    pruned or changed in the configuration."""
    if command[0] in ("logs",) and command[1] != "rotate":
        rotated(site)
    (site.root / "state").mkdir(mode=0o750, exist_ok=True)
    site.plant("state/journal.jsonl")
    before = snapshot(site.root)
    args = list(command)
    if command[0] == "config":
        args = ["config", "set", "logs.lock_timeout_s", "12"]
    code, doc, err = run(site.config, *args, clock=AFTER_WEDNESDAY_CLOSE)
    assert code == 65, (doc, err)
    assert "journal" in doc["error"]["message"], doc
    after = snapshot(site.root)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert not {k for k in changed if not k.endswith(("-wal", "-shm", ".lock"))}, changed
