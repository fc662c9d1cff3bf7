"""The process backend with real child processes: start, stop, crash, stale pids, races."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl.components.pidfile import PIDFILE_DAMAGED
from ncctl.components.process import ComponentFailed, ProcessBackend
from ncctl.components.procfs import alive_children, read_stat
from ncctl.components.section import ComponentConfig, ReadyCheck
from ncctl.errors import CantCreateError, UnavailableError
from tests.helpers import wait_for

SLEEPER = ["{python}", "-c", "import time; print('up', flush=True); time.sleep(120)"]


@pytest.fixture
def backends() -> Iterator[list[ProcessBackend]]:
    """Backends created by a test; anything still running afterwards is killed."""
    made: list[ProcessBackend] = []
    yield made
    for b in made:
        inst = b._instance()
        if inst is not None:
            os.kill(inst.supervisor, signal.SIGKILL)
            if inst.pid is not None:
                os.kill(inst.pid, signal.SIGKILL)


def make(
    backends: list[ProcessBackend], tmp_path: Path, name: str = "feed_handler", **kw: object
) -> ProcessBackend:
    cfg = ComponentConfig.model_validate({"command": SLEEPER, "stop_timeout_s": 2.0, **kw})
    backend = ProcessBackend(name, cfg, tmp_path / "state")
    backends.append(backend)
    return backend


def test_start_status_stop_round_trip(backends: list[ProcessBackend], tmp_path: Path) -> None:
    b = make(backends, tmp_path)
    assert b.status().state == "stopped"
    started = b.start()
    assert started.changed and started.status.state == "running"
    pid = started.status.pid
    assert pid is not None
    stat = read_stat(pid)
    assert stat is not None and stat.alive
    pidfile = json.loads(b.pidfile.read_text())
    assert pidfile["pid"] == pid and pidfile["start_ticks"] == stat.start_ticks
    again = b.start()
    assert not again.changed and "already running" in again.message
    stopped = b.stop()
    assert stopped.changed and "SIGTERM" in stopped.message
    wait_for(lambda: (s := read_stat(pid)) is None or not s.alive, 5, f"pid {pid} to end")
    assert b.status().state == "stopped"
    noop = b.stop()
    assert not noop.changed and noop.message == "already stopped"


def test_output_goes_to_the_log_file(backends: list[ProcessBackend], tmp_path: Path) -> None:
    b = make(backends, tmp_path, log_file=str(tmp_path / "logs" / "fh.log"))
    b.start()
    wait_for(lambda: "up" in (tmp_path / "logs" / "fh.log").read_text(), 5, "up in the log")
    b.stop()


@pytest.mark.slow
def test_sigterm_ignored_means_sigkill_after_timeout(
    backends: list[ProcessBackend], tmp_path: Path
) -> None:
    stubborn = [
        "{python}",
        "-c",
        "import signal, time, pathlib, sys\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).write_text('x')\n"
        "time.sleep(120)",
        str(tmp_path / "armed"),
    ]
    b = make(
        backends,
        tmp_path,
        command=stubborn,
        stop_timeout_s=0.5,
        ready={"kind": "file", "path": str(tmp_path / "armed"), "timeout_s": 10},
    )
    pid = b.start().status.pid
    result = b.stop()
    assert result.changed
    assert "SIGKILL" in result.message and "exit status -9" in result.message
    assert pid is not None
    wait_for(lambda: (s := read_stat(pid)) is None or not s.alive, 5, f"pid {pid} to end")


def test_crash_before_ready_fails_with_log_tail(
    backends: list[ProcessBackend], tmp_path: Path
) -> None:
    crashing = ["{python}", "-c", "import sys; print('licence expired'); sys.exit(3)"]
    b = make(
        backends,
        tmp_path,
        command=crashing,
        ready={"kind": "file", "path": str(tmp_path / "never"), "timeout_s": 10},
    )
    with pytest.raises(ComponentFailed) as info:
        b.start()
    assert info.value.exit_code == 69
    assert "exit status 3" in info.value.message
    assert "licence expired" in info.value.log_tail
    assert b.status().state == "stopped"


@pytest.mark.slow
def test_not_ready_in_time_is_stopped_and_failed(
    backends: list[ProcessBackend], tmp_path: Path
) -> None:
    b = make(
        backends,
        tmp_path,
        ready={"kind": "tcp_port", "port": 1, "timeout_s": 0.5},
    )
    with pytest.raises(ComponentFailed, match=r"not ready after 0\.5 s"):
        b.start()
    assert b.status().state == "stopped"


def test_crash_after_start_is_reported_with_exit_code(
    backends: list[ProcessBackend], tmp_path: Path
) -> None:
    crash_on_signal = [
        "{python}",
        "-c",
        "import sys, signal, time\n"
        "signal.signal(signal.SIGUSR1, lambda *a: sys.exit(7))\n"
        "print('will crash', flush=True)\n"
        "time.sleep(120)",
    ]
    b = make(backends, tmp_path, command=crash_on_signal)
    pid = b.start().status.pid
    assert pid is not None
    wait_for(lambda: "will crash" in b.log_file.read_text(), 5, "will crash in the log")
    os.kill(pid, signal.SIGUSR1)

    def settled() -> bool:  # crashed, and its supervisor has recorded that and ended
        now = b.status()
        return now.state == "crashed" and now.exit_code == 7 and now.detail == ""

    wait_for(settled, 10, "crashed with exit 7, the supervisor gone")
    status = b.status()
    assert status.log_tail[-1] == "will crash"
    result = b.stop()
    assert not result.changed and "exit status 7" in result.message
    assert b.status().state == "stopped"


@pytest.mark.slow
def test_pidfile_of_a_live_unrelated_process_is_never_signalled(
    backends: list[ProcessBackend], tmp_path: Path
) -> None:
    b = make(backends, tmp_path)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        stat = read_stat(bystander.pid)
        assert stat is not None
        b.run_dir.mkdir(parents=True)
        b.pidfile.write_text(
            json.dumps({"pid": bystander.pid, "start_ticks": stat.start_ticks + 1})
        )
        status = b.status()
        assert status.state == "crashed" and "another process" in status.detail
        result = b.stop()
        assert not result.changed
        assert bystander.poll() is None  # still alive: it was not signalled
        started = b.start()
        assert started.changed and started.status.pid != bystander.pid
        b.stop()
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait(timeout=10)


def test_two_concurrent_starts_start_exactly_one(
    backends: list[ProcessBackend], tmp_path: Path
) -> None:
    first = make(backends, tmp_path)
    second = make(backends, tmp_path)
    results: list[bool] = []
    errors: list[BaseException] = []

    def run(b: ProcessBackend) -> None:
        try:
            results.append(b.start().changed)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(results) == [False, True]
    pid = first.status().pid
    assert pid is not None and second.status().pid == pid
    first.stop()


@pytest.mark.slow
def test_two_concurrent_cli_starts_start_exactly_one(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        "[components.feed_handler]\n"
        'command = ["{python}", "-m", "ncctl.sim.idle"]\n'
        "stop_timeout_s = 2.0\n"
        f'[tuning]\nroot = "{tmp_path / "tuning-root"}"\n'  # a development setup: --clock acts
    )
    ncctl = str(Path(sys.executable).parent / "ncctl")
    argv = [ncctl, "--config", str(config), "--clock", "2026-11-25T10:00", "feed", "start"]
    procs = [subprocess.Popen([*argv, "--json"], stdout=subprocess.PIPE) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    try:
        assert sorted(o["data"]["changed"] for o in outs) == [False, True]
        pids = {o["data"]["status"]["pid"] for o in outs}
        assert len(pids) == 1
    finally:
        stop = subprocess.run(
            [
                ncctl,
                "--config",
                str(config),
                "feed",
                "stop",
                "--force",
                "--reason",
                "test teardown",
                "--json",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert json.loads(stop.stdout)["data"]["changed"] is True


def test_missing_executable_is_unavailable(backends: list[ProcessBackend], tmp_path: Path) -> None:
    b = make(backends, tmp_path, command=["/nonexistent/feed-handler"])
    with pytest.raises(Exception, match="is not an executable") as info:
        b.start()
    assert getattr(info.value, "exit_code", None) == 69


def test_ready_check_config_needs_its_target() -> None:
    with pytest.raises(ValueError, match="needs port"):
        ReadyCheck.model_validate({"kind": "tcp_port"})


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts itself; killed afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.skipif(shutil.which("flock") is None, reason="needs flock(1)")
def test_an_instance_lock_held_by_something_else_is_named_and_nothing_starts(
    backends: list[ProcessBackend], spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    b = make(backends, tmp_path)
    b.run_dir.mkdir(parents=True)
    holder = subprocess.Popen(["flock", "--exclusive", str(b.instance_lock), "sleep", "120"])
    spawned.append(holder)
    wait_for(lambda: holder.pid in b._lock_holders(), 10, "the holder to take the lock")
    assert b.status().state == "stopped"
    with pytest.raises(UnavailableError) as info:
        b.start()
    assert info.value.code == "component.lock_held" and info.value.exit_code == 69
    assert f"pid {holder.pid} (flock" in info.value.message
    assert b._instance() is None and not b.exit_file.exists()
    assert not b.stop().changed
    assert holder.poll() is None  # never signalled


def test_a_supervisor_of_an_older_ncctl_is_found_without_a_pidfile(
    backends: list[ProcessBackend], spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """Upgrading ncctl while a component runs under a supervisor that took no instance lock:
    it is found by its command line (same module and pidfile, no --lock-fd)."""
    old = tmp_path / "old"
    (old / "ncctl" / "components").mkdir(parents=True)
    for package in (old / "ncctl", old / "ncctl" / "components"):
        (package / "__init__.py").write_text("")
    (old / "ncctl" / "components" / "supervise.py").write_text(
        "import subprocess, sys\nsys.exit(subprocess.call(sys.argv[sys.argv.index('--') + 1 :]))\n"
    )
    b = make(backends, tmp_path)
    argv = ["--pidfile", str(b.pidfile.absolute()), "--exit-file", str(b.exit_file.absolute())]
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "ncctl.components.supervise", *argv, "--", *sleeper], cwd=old
    )
    spawned.append(supervisor)
    wait_for(lambda: bool(alive_children(supervisor.pid)), 10, "the supervisor's child")
    [child] = alive_children(supervisor.pid)
    assert not b.pidfile.exists()
    assert (b.status().state, b.status().pid) == ("running", child.pid)
    again = b.start()
    assert not again.changed and again.message == f"already running (pid {child.pid})"
    assert b.stop().changed
    supervisor.wait(timeout=10)  # it ends with its component
    assert (s := read_stat(child.pid)) is None or not s.alive
    assert b._instance() is None


def test_what_the_instance_lock_file_says_is_checked_against_proc(
    backends: list[ProcessBackend], spawned: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    b = make(backends, tmp_path)
    pid = b.start().status.pid
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    spawned.append(bystander)
    stat = read_stat(bystander.pid)
    assert stat is not None
    b.instance_lock.write_text(json.dumps({"pid": bystander.pid, "start_ticks": stat.start_ticks}))
    assert (b.status().state, b.status().pid) == ("running", pid)
    assert b.stop().changed
    assert bystander.poll() is None  # never signalled


def test_a_directory_in_place_of_the_pidfile_is_named_and_nothing_starts(
    backends: list[ProcessBackend], tmp_path: Path
) -> None:
    b = make(backends, tmp_path)
    b.pidfile.mkdir(parents=True)
    assert b.status().detail.startswith(PIDFILE_DAMAGED)
    with pytest.raises(CantCreateError, match="cannot remove it before starting") as info:
        b.start()
    assert info.value.exit_code == 73 and str(b.pidfile) in info.value.message
    assert b._instance() is None and b.pidfile.is_dir()
    stopped = b.stop()
    assert not stopped.changed and "it could not be removed" in stopped.message


@pytest.mark.slow
def test_whatever_the_pidfile_holds_the_running_instance_is_the_one_found(
    backends: list[ProcessBackend], tmp_path: Path
) -> None:
    """Property: any pidfile content (bytes, or a record naming any pid and start time,
    the component's and its supervisor's among them) changes neither what `status` reports
    nor what `start` does while an instance runs."""
    b = make(backends, tmp_path)
    pid = b.start().status.pid
    inst = b._instance()
    assert pid is not None and inst is not None and inst.start_ticks is not None
    pids = st.sampled_from([pid, inst.supervisor, 1, os.getpid()]) | st.integers(1, 2**22)
    ticks = st.sampled_from([inst.start_ticks, inst.start_ticks + 1, 0]) | st.integers(1, 2**40)
    records = st.builds(lambda p, t: json.dumps({"pid": p, "start_ticks": t}).encode(), pids, ticks)

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(content=st.binary(max_size=128) | records)
    def check(content: bytes) -> None:
        b.pidfile.write_bytes(content)
        status = b.status()
        assert (status.state, status.pid) == ("running", pid)
        again = b.start()
        assert not again.changed and again.message == f"already running (pid {pid})"
        assert [c.pid for c in alive_children(inst.supervisor)] == [pid]

    check()
    assert b.stop().changed
    assert b._instance() is None
