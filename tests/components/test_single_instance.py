"""One instance per component, whatever the pidfile says: both simulators, real processes.

Each simulator is started through the CLI (in-process, on configs/dev.toml, from an empty
working directory, state in the per-user state directory ``$XDG_STATE_HOME/ncctl``, which
tests/conftest.py puts in the test's folder); then its pidfile is damaged in one of six ways and
`status`, `start` and `stop` are run. At every step the real processes are counted from
/proc (command line and working directory): exactly one component and one supervisor while
it runs, none after `stop`, and nothing else is touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ncctl.cli.main import main
from ncctl.components.pidfile import PIDFILE_DAMAGED
from ncctl.components.procfs import cmdline, pids, read_stat
from tests.helpers import holds_within, ncctl_command, run_in_process, wait_for

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "configs" / "dev.toml"
TRADING = "2026-11-25T10:00"  # Wednesday: feed handler and order entry both scheduled up
SUPERVISOR = "ncctl.components.supervise"
SIMULATORS = {"feed": "ncctl.sim.feed_handler", "session": "ncctl.sim.order_session"}
NAMES = {"feed": "feed_handler", "session": "order_session"}

pytestmark = pytest.mark.skipif(not Path("/proc/locks").is_file(), reason="needs Linux /proc/locks")


def processes(root: Path, module: str) -> list[int]:
    """Live processes running ``python -m module`` with ``root`` as working directory."""
    found: list[int] = []
    for pid in pids():
        try:
            cwd = Path(f"/proc/{pid}/cwd").readlink()
        except OSError:
            continue
        stat = read_stat(pid)
        if cmdline(pid)[1:3] == ["-m", module] and cwd == root and stat and stat.alive:
            found.append(pid)
    return found


def state_dir() -> Path:
    """The state directory of the embedded default configs/dev.toml in this test."""
    return Path(os.environ["XDG_STATE_HOME"]) / "ncctl"


def counts(root: Path, group: str) -> tuple[int, int]:
    """(components, supervisors) of ``group`` running in ``root``."""
    return len(processes(root, SIMULATORS[group])), len(processes(root, SUPERVISOR))


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory; whatever was started in it is stopped afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NCCTL_CONFIG", raising=False)
    yield tmp_path
    for group in ("session", "feed"):
        main(["--config", str(DEV), group, "stop", "--force", "--reason", "test teardown"])
    for module in (*SIMULATORS.values(), SUPERVISOR):
        for pid in processes(tmp_path, module):
            os.kill(pid, signal.SIGKILL)


def ncctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    if args[-1] in ("start", "stop", "restart"):  # in trading hours: past the guards
        args = (*args, "--force", "--reason", "a test of single instances")
    done = run_in_process(capsys, "--config", DEV, "--clock", TRADING, *args, "--json")
    return done.code, done.json()


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not ours: its pid must never be signalled."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def record(pid: int, ticks: int) -> bytes:
    return json.dumps({"pid": pid, "start_ticks": ticks, "supervisor": pid}).encode()


Damage = Callable[[Path, int, subprocess.Popen[bytes], Path], object]


def _write(data: bytes) -> Damage:
    return lambda pidfile, _pid, _by, _target: pidfile.write_bytes(data)


def _wrong_pid(pidfile: Path, _pid: int, by: subprocess.Popen[bytes], _target: Path) -> None:
    stat = read_stat(by.pid)
    assert stat is not None
    pidfile.write_bytes(record(by.pid, stat.start_ticks))  # a live pid with its true start


def _wrong_start(pidfile: Path, pid: int, _by: subprocess.Popen[bytes], _target: Path) -> None:
    stat = read_stat(pid)
    assert stat is not None
    pidfile.write_bytes(record(pid, stat.start_ticks + 1))


def _symlink(pidfile: Path, _pid: int, _by: subprocess.Popen[bytes], target: Path) -> None:
    pidfile.unlink()
    pidfile.symlink_to(target)


DAMAGES: dict[str, Damage] = {
    "empty": _write(b""),
    "garbage": _write(b"\x00\xffnot json {"),
    "deleted": lambda pidfile, _pid, _by, _target: pidfile.unlink(),
    "wrong pid": _wrong_pid,
    "wrong start time": _wrong_start,
    "symlink": _symlink,
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("group", list(SIMULATORS))
def test_a_damaged_pidfile_never_leads_to_a_second_instance_or_an_orphan(
    capsys: pytest.CaptureFixture[str],
    root: Path,
    bystander: subprocess.Popen[bytes],
    group: str,
    damage: str,
) -> None:
    pidfile = state_dir() / "run" / f"{NAMES[group]}.pid"
    target = root / "precious.txt"
    target.write_text("not a pidfile\n")
    code, doc = ncctl(capsys, group, "start")
    assert code == 0 and doc["data"]["changed"] is True, doc
    assert counts(root, group) == (1, 1)
    [pid] = processes(root, SIMULATORS[group])
    assert doc["data"]["status"]["pid"] == pid

    DAMAGES[damage](pidfile, pid, bystander, target)

    code, doc = ncctl(capsys, group, "status")
    assert code == 0, doc
    assert (doc["data"]["actual"], doc["data"]["pid"]) == ("running", pid)
    if damage != "deleted":
        assert doc["data"]["detail"].startswith(PIDFILE_DAMAGED), doc["data"]
        assert f"{pidfile.name}" in doc["data"]["detail"]
        assert doc["data"]["warnings"] == [f"{NAMES[group]}: {doc['data']['detail']}"]
    assert counts(root, group) == (1, 1)

    code, doc = ncctl(capsys, group, "start")
    assert code == 0 and doc["data"]["changed"] is False, doc
    assert doc["data"]["message"] == f"already running (pid {pid})"
    assert counts(root, group) == (1, 1)

    code, doc = ncctl(capsys, group, "stop")
    assert code == 0 and doc["data"]["changed"] is True, doc
    assert doc["data"]["message"] == "stopped with SIGTERM (exit status 0)"
    assert counts(root, group) == (0, 0)
    assert read_stat(pid) is None or not read_stat(pid).alive  # type: ignore[union-attr]

    code, doc = ncctl(capsys, group, "status")
    assert code == 1 and doc["data"]["actual"] == "stopped", doc  # drift: it should run
    assert bystander.poll() is None  # never signalled
    assert target.read_text() == "not a pidfile\n" and not target.is_symlink()
    assert not pidfile.is_symlink()


@pytest.mark.slow
def test_a_deleted_instance_lock_file_still_finds_the_instance(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    code, _ = ncctl(capsys, "feed", "start")
    assert code == 0
    (state_dir() / "run" / "feed_handler.instance.lock").unlink()
    (state_dir() / "run" / "feed_handler.pid").unlink()
    code, doc = ncctl(capsys, "feed", "start")
    assert code == 0 and doc["data"]["changed"] is False, doc
    assert counts(root, "feed") == (1, 1)
    code, doc = ncctl(capsys, "feed", "stop")
    assert code == 0 and doc["data"]["changed"] is True, doc
    assert counts(root, "feed") == (0, 0)


def test_a_planted_link_at_the_instance_lock_is_refused_and_its_target_kept(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    target = root / "precious.txt"
    target.write_text("keep me\n")
    target.chmod(0o644)
    link = state_dir() / "run" / "feed_handler.instance.lock"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    code, doc = ncctl(capsys, "feed", "start")
    assert code == 65, doc  # a planted link is bad data, as everywhere ncctl refuses one
    message = doc["error"]["message"]
    assert str(link) in message and "symbolic link" in message
    assert counts(root, "feed") == (0, 0)
    assert target.read_text() == "keep me\n" and target.stat().st_mode & 0o777 == 0o644


@pytest.mark.slow
def test_the_instance_lock_file_is_private(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    code, _ = ncctl(capsys, "feed", "start")
    assert code == 0
    lock = state_dir() / "run" / "feed_handler.instance.lock"
    assert lock.stat().st_mode & 0o777 == 0o600
    assert json.loads(lock.read_text())["pid"] == processes(root, SIMULATORS["feed"])[0]


@pytest.mark.slow
def test_a_killed_supervisor_takes_its_component_with_it(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    code, _ = ncctl(capsys, "session", "start")
    assert code == 0
    [supervisor] = processes(root, SUPERVISOR)
    os.kill(supervisor, signal.SIGKILL)
    wait_for(lambda: counts(root, "session") == (0, 0), 10, "no session left")
    code, doc = ncctl(capsys, "session", "start")
    assert code == 0 and doc["data"]["changed"] is True, doc
    assert counts(root, "session") == (1, 1)


@pytest.mark.slow
def test_starts_and_stops_killed_at_random_instants_never_leave_two_or_an_orphan(
    root: Path,
) -> None:
    """Rounds of two racing `feed start`s and a `feed stop` (real CLI processes), one of
    them SIGKILLed at a random instant (seeded): after every round, at most one feed handler
    and one supervisor, each handler with its supervisor; at the end one start gives exactly
    one, and a stop leaves none."""
    import random

    rng = random.Random(1536)
    base = ncctl_command("--config", DEV, "--clock", TRADING, "feed", module=True)
    env = {k: v for k, v in os.environ.items() if k != "NCCTL_CONFIG"}

    def launch(verb: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*base, verb, "--force", "--reason", "a race test", "--json"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def paired() -> bool:
        components, supervisors = counts(root, "feed")
        return components == supervisors

    for round_ in range(15):
        verbs = ["start", "start"] + (["stop"] if round_ % 3 == 2 else [])
        procs = [launch(v) for v in verbs]
        victim = rng.choice(procs)
        try:
            victim.wait(timeout=rng.uniform(0.0, 0.8))
        except subprocess.TimeoutExpired:
            victim.kill()
        for proc in procs:
            proc.wait(timeout=60)
        assert holds_within(paired, 10.0), (round_, counts(root, "feed"))
        assert counts(root, "feed")[0] <= 1, (round_, counts(root, "feed"))
    start = launch("start")
    assert start.wait(timeout=60) == 0
    assert counts(root, "feed") == (1, 1)
    stop = launch("stop")
    assert stop.wait(timeout=60) == 0
    assert holds_within(lambda: counts(root, "feed") == (0, 0), 10.0), counts(root, "feed")
