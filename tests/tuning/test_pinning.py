"""Pinning: [pin] and the components' CPUs of a profile, kernel threads moved to housekeeping
CPUs, and force_latency held by a real ``ncctl tune hold-latency`` process (a regular file
stands for /dev/cpu_dma_latency under a fake root; the real device on this machine)."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncctl.errors import ConfigError
from ncctl.tuning.host import Host
from ncctl.tuning.kthreads import PF_KTHREAD, PF_NO_SETAFFINITY
from ncctl.tuning.latency import DEVICE, LatencyCheck, check
from ncctl.tuning.pin_files import with_banned
from ncctl.tuning.pinning import component_cpus
from ncctl.tuning.plan import Compliance
from ncctl.tuning.profiles import load_profile
from ncctl.tuning.tuner import Tuner
from tests.helpers import ncctl_command, run_in_process, wait_for
from tests.tuning import fakeroot
from tests.tuning.conftest import SATURDAY, envelope, write_config
from tests.tuning.test_topology import plan_of

HOLD_TIMEOUT_S = 20.0


def profile_file(tmp_path: Path, body: str, parent: str = "isolated-cores") -> Path:
    path = tmp_path / "p.toml"
    path.write_text(f'extends = ["{parent}"]\n{body}')
    return path


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('[pin]\nirqbalance = "sometimes"\n', "pin.irqbalance"),
        ("[pin]\nforce_latency = -1\n", "pin.force_latency"),
        ("[pin]\nforce_latency = true\n", "pin.force_latency"),
        ('[pin]\nkthreads = "yes"\n', "pin.kthreads"),
        ("[pin]\nnope = 1\n", "pin.nope"),
        ("[cpus]\norder_session = 3\n", "cpus.order_session"),
        ('[cpus]\n"Order Session" = "auto"\n', "cpus.Order Session"),
    ],
)
def test_bad_pin_settings_name_the_file_and_key(tmp_path: Path, body: str, where: str) -> None:
    path = profile_file(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_profile(str(path))
    assert str(path) in caught.value.message
    assert where in caught.value.message
    assert caught.value.exit_code == 78


@pytest.mark.parametrize(
    ("smt", "expected"),
    [
        (True, {"order_session": "1,9", "feed_handler": "2,10"}),
        (False, {"order_session": "1", "feed_handler": "2"}),
    ],
)
def test_auto_gives_each_component_an_isolated_core_of_its_own(
    tmp_path: Path, smt: bool, expected: dict[str, str]
) -> None:
    root = fakeroot.build_topology(tmp_path / "root", smt=smt)
    path = profile_file(tmp_path, '[cpus]\norder_session = "auto"\nfeed_handler = "auto"\n')
    plan = plan_of(root, tmp_path / "state", str(path))
    chosen = component_cpus(load_profile(str(path)), plan.cpus)
    from ncctl.tuning.cpuset import format_cpulist

    assert {k: format_cpulist(v) for k, v in chosen.items()} == expected
    for cpus in chosen.values():
        assert cpus <= plan.cpus.isolated


def test_auto_without_an_isolated_core_left_is_a_config_error(tmp_path: Path) -> None:
    root = fakeroot.build(tmp_path / "root")  # 4 CPUs, no SMT: 1-3 isolated
    path = profile_file(
        tmp_path,
        '[cpus]\nhousekeeping = "0"\norder_session = "1-3"\nfeed_handler = "auto"\n',
    )
    plan = plan_of(root, tmp_path / "state", str(path))
    with pytest.raises(ConfigError, match=r"cpus.feed_handler = \"auto\": no isolated core"):
        component_cpus(load_profile(str(path)), plan.cpus)


def test_the_banned_cpu_list_replaces_every_assignment_and_keeps_the_rest() -> None:
    text = 'OPTIONS=""\nIRQBALANCE_BANNED_CPULIST=7\n# note\nexport IRQBALANCE_BANNED_CPULIST=9\n'
    assert with_banned(text, "1-7") == 'OPTIONS=""\nIRQBALANCE_BANNED_CPULIST=1-7\n# note\n'
    assert with_banned("", "2").splitlines()[-1] == "IRQBALANCE_BANNED_CPULIST=2"
    assert with_banned(with_banned(text, "3"), "3") == with_banned(text, "3")


@given(
    text=st.lists(
        st.sampled_from(
            [
                'OPTIONS=""',
                "IRQBALANCE_BANNED_CPULIST=5",
                "export IRQBALANCE_BANNED_CPULIST=1",
                "#IRQBALANCE_BANNED_CPULIST=2",
                "  IRQBALANCE_BANNED_CPULIST=3",
                "",
                "# x",
            ]
        ),
        max_size=8,
    ),
    cpus=st.sampled_from(["1", "1-7,9-15", "2,3"]),
)
def test_with_banned_sets_exactly_one_assignment_and_keeps_every_other_line(
    text: list[str], cpus: str
) -> None:
    lines = "\n".join(text).splitlines()
    out = with_banned("\n".join(text), cpus).splitlines()
    line = f"IRQBALANCE_BANNED_CPULIST={cpus}"
    assert out.count(line) == 1
    live = [x for x in out if "BANNED_CPULIST=" in x and not x.lstrip().startswith("#")]
    assert live == [line]
    added = "# isolated CPUs, kept free of IRQs: set by `ncctl tune host`"
    kept = [x for x in lines if "BANNED_CPULIST=" not in x or x.lstrip().startswith("#")]
    assert [x for x in out if x not in (line, added)] == [x for x in kept if x != added]
    once = with_banned("\n".join(text), cpus)
    assert with_banned(once, cpus) == once  # planned again after the apply: unchanged


def test_hold_latency_names_a_missing_device_and_refuses_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fakeroot.build(tmp_path / "root")
    config = latency_config(tmp_path, root, 3)
    missing = run_in_process(capsys, "--config", config, "tune", "hold-latency", "--json")
    doc = envelope(missing, "tune hold-latency")
    assert missing.code == 69
    assert "/dev/cpu_dma_latency" in doc["error"]["message"]
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (root / "dev").mkdir()
    (root / "dev/cpu_dma_latency").symlink_to(target)
    linked = run_in_process(capsys, "--config", config, "tune", "hold-latency", "--json")
    assert linked.code == 69
    assert target.read_bytes() == b""  # never written through the link


def kthread(root: Path, pid: int, comm: str, flags: int, allowed: str) -> None:
    base = root / f"proc/{pid}"
    base.mkdir(parents=True, exist_ok=True)
    fields = ["S", "2", "0", "0", "0", "-1", str(flags), *["0"] * 13, "100"]
    (base / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")
    (base / "status").write_text(f"Name:\t{comm}\nCpus_allowed_list:\t{allowed}\n")


def test_movable_kernel_threads_go_to_housekeeping_and_per_cpu_ones_stay(tmp_path: Path) -> None:
    root = fakeroot.build_topology(tmp_path / "root")
    kthread(root, 2, "kthreadd", PF_KTHREAD, "0-15")
    kthread(root, 15, "rcu_preempt", PF_KTHREAD, "0-15")
    kthread(root, 16, "ksoftirqd/3", PF_KTHREAD | PF_NO_SETAFFINITY, "3")
    kthread(root, 17, "kworker/3:1", PF_KTHREAD, "3")
    kthread(root, 18, "kswapd0", PF_KTHREAD, "0,8")  # already on housekeeping
    kthread(root, 300, "sshd", 0x400100, "0-15")  # a user process
    runner = fakeroot.RecordingRunner(root=root)
    path = profile_file(tmp_path, "[pin]\nkthreads = true\n")
    tuner = Tuner(Host(root, runner), tmp_path / "state")
    planned = tuner.plan(load_profile(str(path)))
    assert [w for w in planned.warnings if w.startswith("2 kernel threads may run on isolated")]
    result = tuner.apply(load_profile(str(path)))
    moves = [c for c in runner.calls if c[0] == "taskset"]
    assert moves == [("taskset", "-pc", "0,8", "2"), ("taskset", "-pc", "0,8", "15")]
    assert result.kthreads["per_cpu_left"] == 2
    # the recording runner answers 127 for taskset: each is reported, not hidden
    assert [f["pid"] for f in result.kthreads["failed"]] == [2, 15]
    journal = (tmp_path / "state/tuning/rollback.jsonl").read_text()
    assert "taskset" not in journal and '"proc/2' not in journal


def latency_config(tmp_path: Path, root: Path, value: int) -> Path:
    path = profile_file(tmp_path, f"[pin]\nforce_latency = {value}\n", parent="base")
    return write_config(tmp_path / "cfg" / "ncctl.toml", tmp_path / "state", root, str(path))


def test_verify_reports_force_latency_drift_when_nothing_holds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fakeroot.build(tmp_path / "root")
    device = root / DEVICE.lstrip("/")
    device.parent.mkdir(parents=True)
    device.write_bytes(struct.pack("=i", 2_000_000_000))  # the kernel's default: no request
    config = latency_config(tmp_path, root, 0)
    done = run_in_process(
        capsys, "--config", config, "--clock", SATURDAY, "tune", "verify", "--json"
    )
    doc = envelope(done, "tune verify")
    held = doc["data"]["force_latency"]
    assert held["verdict"] == "drift"
    assert held["current_us"] == 2_000_000_000 and held["desired_us"] == 0
    assert "no process holds it" in held["reason"]
    assert done.code == int(Compliance.DRIFT)
    assert "force_latency" in doc["error"]["message"]


def test_a_missing_device_is_unsupported_not_drift(tmp_path: Path) -> None:
    root = fakeroot.build(tmp_path / "root")
    path = profile_file(tmp_path, "[pin]\nforce_latency = 5\n", parent="base")
    found = check(Host(root), load_profile(str(path)))
    assert found.verdict == "unsupported"
    assert "No such file" in found.reason()


def start_holder(config: Path, root: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ncctl_command("--config", config, "tune", "hold-latency", "--root", root),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop_holder(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=HOLD_TIMEOUT_S)
    assert b"Traceback" not in err, err
    return proc.returncode, out.decode()


@pytest.mark.slow
def test_the_holder_writes_the_value_and_ends_cleanly_on_sigterm(tmp_path: Path) -> None:
    root = fakeroot.build(tmp_path / "root")
    device = root / DEVICE.lstrip("/")
    device.parent.mkdir(parents=True)
    device.write_bytes(b"")
    config = latency_config(tmp_path, root, 7)
    proc = start_holder(config, root, tmp_path)
    try:
        wait_for(lambda: device.read_bytes() == struct.pack("=i", 7), HOLD_TIMEOUT_S, "the write")
        assert proc.poll() is None  # still holding
    finally:
        code, out = stop_holder(proc)
    assert code == 0
    assert "on SIGTERM" in out


@pytest.mark.slow
def test_the_holder_refuses_a_profile_without_force_latency(tmp_path: Path) -> None:
    root = fakeroot.build(tmp_path / "root")
    config = write_config(tmp_path / "cfg" / "ncctl.toml", tmp_path / "state", root, "base")
    proc = start_holder(config, root, tmp_path)
    _, err = proc.communicate(timeout=HOLD_TIMEOUT_S)
    assert proc.returncode == 78
    assert b"force_latency" in err and b"Traceback" not in err


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(DEVICE), reason="needs root and /dev/cpu_dma_latency"
)
def test_the_real_device_reads_back_the_held_value_while_held(tmp_path: Path) -> None:
    live = Host(Path("/"))
    value = 1999  # looser than any real request: only this test's own is at it
    config = latency_config(tmp_path, Path("/"), value)
    profile = load_profile(str(tmp_path / "p.toml"))
    before = check(live, profile)
    if before.current is not None and before.current < value:
        pytest.skip(f"another process holds a stricter value ({before.current} µs)")
    proc = start_holder(config, Path("/"), tmp_path)
    try:

        def held() -> LatencyCheck | None:
            found = check(live, profile)
            return found if found.current == value and proc.pid in found.holders else None

        assert wait_for(held, HOLD_TIMEOUT_S, "the PM QoS value").verdict == "ok"
    finally:
        code, _ = stop_holder(proc)
    assert code == 0
    after = check(live, profile)
    assert proc.pid not in after.holders
    assert after.current == before.current  # the kernel dropped the request on close


def test_stop_disables_irqbalance_and_rollback_enables_it_again(tmp_path: Path) -> None:
    root = fakeroot.build_topology(tmp_path / "root")
    runner = fakeroot.RecordingRunner(root=root)
    tuner = Tuner(Host(root, runner), tmp_path / "state")
    path = profile_file(tmp_path, '[pin]\nirqbalance = "stop"\n')
    applied = tuner.apply(load_profile(str(path)))
    assert runner.services["irqbalance.service"] == {"enabled": False, "active": False}
    [stopped] = [c for c in applied.changed if c["id"] == "service:irqbalance.service"]
    assert stopped["from"] == "enabled, active"
    assert ("systemctl", "disable", "--now", "irqbalance.service") in runner.calls
    again = tuner.apply(load_profile(str(path)))  # already stopped: nothing more
    assert not [c for c in again.changed if c["id"].startswith("service:")]
    assert not (root / "etc/default/irqbalance").exists()  # stop writes no banned list

    rolled = tuner.rollback()
    assert "service:irqbalance.service" in {s.entry.id for s in rolled.of("restore")}
    assert runner.services["irqbalance.service"] == {"enabled": True, "active": True}


def test_in_a_container_pinning_is_host_only_and_writes_nothing(tmp_path: Path) -> None:
    from tests.tuning.test_container import own_netns

    root = fakeroot.build_topology(tmp_path / "root")
    own_netns(root)
    kthread(root, 2, "kthreadd", PF_KTHREAD, "0-15")
    runner = fakeroot.RecordingRunner(root=root)
    path = profile_file(
        tmp_path,
        '[pin]\nirqbalance = "stop"\nkthreads = true\nsystemd_affinity = true\nforce_latency = 0\n',
    )
    tuner = Tuner(Host(root, runner), tmp_path / "state")
    result = tuner.apply(load_profile(str(path)))
    assert not [c for c in runner.calls if c[0] in ("taskset", "systemctl")]
    assert not (root / "etc/systemd").exists() and not (root / "etc/default/irqbalance").exists()
    assert result.kthreads["enabled"] is False
    latency = result.final.latency
    assert latency is not None and latency.verdict == "host-only"
    assert result.final.compliance() is Compliance.UNREACHABLE


def test_ban_writes_the_banned_list_and_restarts_a_running_irqbalance_once(tmp_path: Path) -> None:
    root = fakeroot.build_topology(tmp_path / "root")
    runner = fakeroot.RecordingRunner(root=root)
    tuner = Tuner(Host(root, runner), tmp_path / "state")
    path = profile_file(tmp_path, '[pin]\nirqbalance = "ban"\n')
    applied = tuner.apply(load_profile(str(path)))
    assert "IRQBALANCE_BANNED_CPULIST=" in (root / "etc/default/irqbalance").read_text()
    assert ("systemctl", "restart", "irqbalance.service") in runner.calls
    assert "service:irqbalance.service:restart" in {c["id"] for c in applied.changed}
    runner.calls.clear()
    tuner.apply(load_profile(str(path)))  # the list is already there: no second restart
    assert ("systemctl", "restart", "irqbalance.service") not in runner.calls

    rolled = tuner.rollback()  # the list goes: irqbalance may use every CPU again
    assert not (root / "etc/default/irqbalance").exists()
    assert ("systemctl", "restart", "irqbalance.service") in runner.calls
    assert rolled.restarted == ["irqbalance.service"]
    assert rolled.as_dict()["restarted"] == ["irqbalance.service"]


def test_ban_does_not_start_an_irqbalance_that_is_not_running(tmp_path: Path) -> None:
    root = fakeroot.build_topology(tmp_path / "root")
    runner = fakeroot.RecordingRunner(root=root)
    runner.services["irqbalance.service"] = {"enabled": False, "active": False}
    tuner = Tuner(Host(root, runner), tmp_path / "state")
    tuner.apply(load_profile(str(profile_file(tmp_path, '[pin]\nirqbalance = "ban"\n'))))
    assert (root / "etc/default/irqbalance").exists()
    assert not [
        c for c in runner.calls if c[:2] in (("systemctl", "restart"), ("systemctl", "start"))
    ]
