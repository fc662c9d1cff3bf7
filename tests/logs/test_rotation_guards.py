"""What keeps a rotation from losing rows: the configuration must say how the writer reopens,
a file a writer still holds is kept (exit 75, reported, counted, journaled) without holding
back anything else, and a clock moved back never rotates into the past."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_process
from tests.logs.helpers import TRADE_DATE, run, tree, write_config

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
HOLD_OPEN = (
    "import sys, time\n"
    "f = open(sys.argv[1], sys.argv[2])\n"
    "print('open', flush=True)\n"
    "time.sleep(120)\n"
)


def journal(root: Path) -> list[dict[str, Any]]:
    path = root / "state" / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def text(config: Path, *args: str, clock: str) -> str:
    """What a human sees: stdout and stderr of a run without --json, at a wide terminal."""
    done = run_process("--config", config, "--clock", clock, *args, cwd=Path.cwd(), columns="400")
    return done.out + done.err


def metric(config: Path, name: str, clock: str, **labels: str) -> float | None:
    code, doc, _ = run(config, "metrics", clock=clock)
    assert code == 0, doc
    for s in doc["data"]["samples"]:
        if s["name"] == name and s["labels"] == labels:
            value: float = s["value"]
            return value
    return None


class Holder:
    """A real process holding ``path`` open (mode ``a`` writes, ``r`` only reads); with
    ``user``, a process of that user that inherited the descriptor from root."""

    def __init__(self, path: Path, mode: str, *, user: int | None = None) -> None:
        argv = [sys.executable, "-c", HOLD_OPEN, str(path), mode]
        fds: tuple[int, ...] = ()
        if user is not None:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND if mode == "a" else os.O_RDONLY)
            fds = (fd,)
            script = HOLD_OPEN.replace("open(sys.argv[1], sys.argv[2])", f"open({fd}, 'rb')")
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
            argv += [sys.executable, "-c", script]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, pass_fds=fds)
        for fd in fds:
            os.close(fd)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == "open\n"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    made: list[Holder] = []
    yield made
    for h in made:
        h.stop()


def two_categories(root: Path, audit: str = "") -> Path:
    """audit (reopen = "self", a short timeout) and trade (copytruncate) in one config."""
    extra = (
        "[logs.trade]\n"
        f'path = "{root / "live" / "trade.log"}"\n'
        'reopen = "self"\n'
        "reopen_timeout_s = 0.2\n"
        'destinations = ["fcm"]\n'
    )
    return write_config(root, extra=extra, audit="reopen_timeout_s = 0.2\n" + audit)


# -- configuration ----------------------------------------------------------------------


def test_rename_without_owner_or_reopen_is_a_config_error_naming_the_category(
    tmp_path: Path,
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'state_dir = "{tmp_path}/state"\n[logs.ion]\npath = "{tmp_path}/x.ion"\n')
    code, doc, _ = run(config, "config", "validate")
    assert code == 78
    assert "logs.ion" in doc["error"]["message"]
    assert "owner" in doc["error"]["message"] and 'reopen = "self"' in doc["error"]["message"]
    code, _, err = run(config, "logs", "rotate", json_flag=False)
    assert code == 78 and "logs.ion" in err
    assert not (tmp_path / "state").exists()  # nothing was created

    config.write_text(config.read_text() + 'reopen = "self"\n')
    assert run(config, "config", "validate")[0] == 0
    signal_no_owner = config.read_text().replace('reopen = "self"', 'reopen = "signal"')
    config.write_text(signal_no_owner)
    assert run(config, "config", "validate")[0] == 78


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_configs_still_validate(env: str) -> None:
    code, doc, _ = run(REPO / "configs" / f"{env}.toml", "config", "validate")
    # staging and prod hold placeholders (hosts, key files) until filled in; not in [logs]
    problems = doc["data"]["problems"] if code == 78 else []
    assert code == 0 or (env != "dev" and problems), doc
    assert not [p for p in problems if p["key"].startswith("logs.")], problems


# -- a file a writer still holds ----------------------------------------------------------


def test_a_held_file_is_kept_reported_and_retried_without_blocking_the_rest(
    tmp_path: Path, holders: list[Holder]
) -> None:
    config = two_categories(tmp_path)
    audit, trade = tmp_path / "live" / "audit.csv", tmp_path / "live" / "trade.log"
    audit.write_text("audit row 1\n")
    trade.write_text("trade row 1\n")
    writer = Holder(audit, "a")
    holders.append(writer)
    holders.append(Holder(trade, "r"))  # a reader does not hold a rotation back

    code, doc, _ = run(config, "logs", "rotate")
    assert code == 75, doc
    assert doc["error"]["code"] == "rotate.held"
    [held] = doc["data"]["held"]
    assert held["category"] == "audit" and held["trade_date"] == "2026-11-25"
    assert [h["pid"] for h in held["holders"]] == [writer.proc.pid]
    kept = tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv"
    assert kept.read_text() == "audit row 1\n"  # renamed, not compressed, not removed
    assert not kept.with_name(kept.name + ".gz").exists()
    trade_gz = tmp_path / "archive" / "trade" / f"trade.{TRADE_DATE}.log.gz"
    assert gzip.decompress(trade_gz.read_bytes()) == b"trade row 1\n"  # the other category

    # the writer still appends to the renamed file: nothing of it is lost
    with kept.open("a") as fh:
        fh.write("audit row 2\n")
    code, doc, _ = run(config, "logs", "status", clock="2026-11-25T16:10")
    [held] = doc["data"]["held"]
    assert held["file"] == str(kept) and str(writer.proc.pid) in held["reason"]
    entry = next(f for f in doc["data"]["files"] if f["category"] == "audit")
    assert entry["state"] == "rotated" and entry["held"]["reason"] == held["reason"]
    out = text(config, "logs", "status", clock="2026-11-25T16:10")
    assert f"held audit 2026-11-25: {kept} is still open for writing by pid" in out
    assert metric(config, "ncctl_rotation_held", "2026-11-25T16:10", category="audit") == 1
    assert metric(config, "ncctl_rotation_held", "2026-11-25T16:10", category="trade") == 0
    [line] = [e for e in journal(tmp_path) if e["command"] == "logs rotate"]
    assert line["outcome"] == "held" and line["details"]["held"][0]["file"] == str(kept)

    # the next trade date is rotated although the older file is still held
    audit.write_text("next day\n")
    code, doc, _ = run(config, "logs", "rotate", clock="2026-11-27T12:20")
    assert code == 75
    next_gz = tmp_path / "archive" / "audit" / "audit.20261127.csv.gz"
    assert gzip.decompress(next_gz.read_bytes()) == b"next day\n"
    assert [h["file"] for h in doc["data"]["held"]] == [str(kept)]

    # the writer lets go: the next run finishes the held rotation
    writer.stop()
    code, doc, _ = run(config, "logs", "rotate", clock="2026-11-27T12:30")
    assert code == 0, doc
    assert doc["data"]["held"] == []
    assert [r["archive"] for r in doc["data"]["resumed"]] == [str(kept) + ".gz"]
    assert gzip.decompress(Path(str(kept) + ".gz").read_bytes()) == b"audit row 1\naudit row 2\n"
    assert not kept.exists()
    assert metric(config, "ncctl_rotation_held", "2026-11-27T12:30", category="audit") == 0


def test_a_writer_ncctl_cannot_look_into_still_holds_the_file(
    tmp_path: Path, holders: list[Holder]
) -> None:
    """Another user's process that ncctl may not look into (no CAP_SYS_PTRACE) holds the
    renamed file for writing: the kernel still counts it, so the file is kept; once it is
    gone, that same unreadable /proc entry no longer stops the rotation."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv")
    config = write_config(tmp_path, audit="reopen_timeout_s = 0.1\n")
    live = tmp_path / "live" / "audit.csv"
    live.write_text("row\n")
    writer = Holder(live, "a", user=65534)  # nobody's process, writing through root's fd
    holders.append(writer)
    holders.append(Holder(Path("/dev/null"), "r", user=65534))  # another one, not writing
    no_ptrace = ("setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "--")
    code, doc, _ = run(config, "logs", "rotate", wrapper=no_ptrace)
    assert code == 75, doc
    [held] = doc["data"]["held"]
    assert held["reason"].startswith("still open for writing by a process ncctl cannot see")
    assert "Permission denied" in held["reason"]
    kept = tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv"
    assert kept.read_text() == "row\n"
    code, doc, _ = run(config, "logs", "rotate", clock="2026-11-25T16:06")  # can look now
    assert code == 75
    assert f"pid {writer.proc.pid}" in doc["data"]["held"][0]["reason"]
    writer.stop()
    code, doc, _ = run(config, "logs", "rotate", clock="2026-11-25T16:07", wrapper=no_ptrace)
    assert code == 0, doc
    assert doc["data"]["held"] == [] and not kept.exists()


def test_without_proc_the_file_is_kept(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare")
    config = write_config(tmp_path, audit="reopen_timeout_s = 0.1\n")
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    hide_proc = (
        "unshare",
        "--mount",
        "--",
        "sh",
        "-c",
        'mount -t tmpfs none /proc && exec "$@"',
        "-",
    )
    code, doc, _ = run(config, "logs", "rotate", wrapper=hide_proc)
    assert code == 75, doc
    assert "/proc is not mounted" in doc["data"]["held"][0]["reason"]
    assert (tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv").read_text() == "row\n"


def test_a_symlinked_live_file_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    target = tmp_path / "elsewhere.csv"
    target.write_text("not ours\n")
    (tmp_path / "live" / "audit.csv").symlink_to(target)
    code, doc, _ = run(config, "logs", "rotate")
    assert code == 65, doc
    assert doc["error"]["code"] == "rotate.not_regular"
    assert str(tmp_path / "live" / "audit.csv") in doc["error"]["message"]
    [cat] = doc["data"]["categories"]
    assert cat["action"] == "refused" and cat["files"] == []
    assert target.read_text() == "not ours\n"
    assert (tmp_path / "live" / "audit.csv").is_symlink()
    assert not list((tmp_path / "archive").rglob("*.csv*"))


# -- a clock moved back -------------------------------------------------------------------


def test_a_trade_date_before_the_newest_archive_is_refused_unless_forced(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    live = tmp_path / "live" / "audit.csv"
    for day in ("04", "05", "06"):
        live.write_text(f"2027-01-{day}\n")
        assert run(config, "logs", "rotate", clock=f"2027-01-{day}T16:05")[0] == 0
    live.write_text("december rows\n")
    before = tree(tmp_path)

    code, doc, _ = run(config, "logs", "rotate", clock="2026-12-15T16:20")
    assert code == 1
    assert doc["error"]["code"] == "rotate.past"
    assert "2026-12-15" in doc["error"]["message"] and "2027-01-06" in doc["error"]["message"]
    assert "--force --reason" in doc["error"]["hint"]
    after = tree(tmp_path)
    for files in (before, after):  # the journal and the lock's note of who took it differ
        for name in [n for n in files if n.startswith(("state/journal", "state/locks/"))]:
            files.pop(name)
    assert after == before
    assert journal(tmp_path)[-1]["outcome"] == "refused"
    assert run(config, "logs", "rotate", "--dry-run", clock="2026-12-15T16:20")[0] == 1

    code, doc, _ = run(config, "logs", "status", clock="2026-12-15T16:20")
    [warning] = doc["data"]["warnings"]
    assert "behind" in warning and "2027-01-06" in warning
    out = text(config, "logs", "status", clock="2026-12-15T16:20")
    assert "warning the clock is behind the newest audit archive (2027-01-06" in out
    _, doc, _ = run(config, "logs", "status", clock="2027-01-07T16:20")
    assert doc["data"]["warnings"] == []

    code, doc, _ = run(config, "logs", "rotate", "--force", clock="2026-12-15T16:20")
    assert code == 64 and "--reason" in doc["error"]["message"]
    reason = "re-archiving the 15 December rows found on the spare host"
    code, doc, _ = run(
        config, "logs", "rotate", "--force", "--reason", reason, clock="2026-12-15T16:20"
    )
    assert code == 0, doc
    assert doc["data"]["forced"] == {"audit": "2027-01-06"}
    archive = tmp_path / "archive" / "audit" / "audit.20261215.csv.gz"
    assert gzip.decompress(archive.read_bytes()) == b"december rows\n"
    line = journal(tmp_path)[-1]
    assert line["reason"] == reason and line["details"]["forced_past"] == {"audit": "2027-01-06"}


def test_the_runner_never_rotates_into_the_past(tmp_path: Path) -> None:
    sleep = '["{python}", "-m", "ncctl.sim.idle"]'
    extra = (
        f"[components.feed_handler]\ncommand = {sleep}\nstop_timeout_s = 2.0\n"
        f"[components.order_session]\ncommand = {sleep}\nstop_timeout_s = 2.0\n"
    )
    config = write_config(tmp_path, extra=extra)
    live = tmp_path / "live" / "audit.csv"
    live.write_text("january\n")
    assert run(config, "logs", "rotate", clock="2027-01-06T16:05")[0] == 0
    assert run(config, "logs", "upload", clock="2027-01-06T16:06")[0] == 0
    live.write_text("rows that must stay live\n")
    archives = sorted(p.name for p in (tmp_path / "archive" / "audit").iterdir())
    outbox = tree(tmp_path / "outbox")
    try:
        code, doc, err = run(config, "maintenance", "run", clock="2026-12-15T16:20")
        assert code == 0, (doc, err)
        [job] = [j for j in doc["data"]["jobs"] if j["job"] == "rotate"]
        assert job["state"] == "done"
        assert "older than the newest" in job["result"]["skipped"]
        assert job["result"]["alert"]["code"] == "rotate.past"
    finally:
        for group in ("session", "feed"):
            run(config, group, "stop", "--force", "--reason", "test teardown")
    assert sorted(p.name for p in (tmp_path / "archive" / "audit").iterdir()) == archives
    assert tree(tmp_path / "outbox") == outbox  # nothing uploaded because of it
    assert live.read_text() == "rows that must stay live\n"
    alerts = [e for e in journal(tmp_path) if e["command"] == "alert rotate"]
    assert len(alerts) == 1 and alerts[0]["outcome"] == "alert"
    value = metric(config, "ncctl_job_alerts_total", "2026-12-15T16:21", job_name="rotate")
    assert value == 1


def test_the_runner_keeps_a_held_file_and_retries_it(tmp_path: Path, holders: list[Holder]) -> None:
    sleep = '["{python}", "-m", "ncctl.sim.idle"]'
    extra = (
        f"[components.feed_handler]\ncommand = {sleep}\nstop_timeout_s = 2.0\n"
        f"[components.order_session]\ncommand = {sleep}\nstop_timeout_s = 2.0\n"
    )
    config = write_config(tmp_path, extra=extra, audit="reopen_timeout_s = 0.1\n")
    live = tmp_path / "live" / "audit.csv"
    live.write_text("held rows\n")
    holders.append(Holder(live, "a"))
    try:
        code, doc, err = run(config, "maintenance", "run", clock="2026-11-25T16:05")
        assert code == 0, (doc, err)
    finally:
        for group in ("session", "feed"):
            run(config, group, "stop", "--force", "--reason", "test teardown")
    [job] = [j for j in doc["data"]["jobs"] if j["job"] == "rotate"]
    assert (job["state"], job["code"]) == ("failed", "rotate.held")  # retried with backoff
    kept = tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv"
    assert kept.read_text() == "held rows\n"
    [line] = [e for e in journal(tmp_path) if e["command"] == "job rotate"]
    assert line["outcome"] == "held" and line["details"]["held"][0]["file"] == str(kept)
    assert metric(config, "ncctl_job_failing", "2026-11-25T16:06", job_name="rotate") == 1
