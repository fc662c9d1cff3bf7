"""Host-level tuning on a fake root tree: apply, verify, reboot, verify, rollback.

Huge pages per NUMA node, THP, governors, IRQ affinity, workqueue masks, sysctl.d,
tmpfiles.d and the boot loader cannot be changed on this machine without changing it for
everyone, so they are exercised on a tree that looks like a host's /proc, /sys and /etc. The
only stand-in is the command runner for update-grub and grubby (recorded argv).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ncctl.errors import CantCreateError, RefusedError, UsageError
from ncctl.resources import builtin_holidays, builtin_schedule
from ncctl.schedule import ScheduleEngine, load_engine
from ncctl.tuning.errors import compliance_error
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.boot_loader import DROPIN
from ncctl.tuning.persist import SYSCTL_FILE, TMPFILES_FILE
from ncctl.tuning.plan import Compliance, Plan
from ncctl.tuning.profiles import Profile, load_profile
from ncctl.tuning.rollback_journal import check_persistent, filesystem_type
from ncctl.tuning.tuner import Tuner
from ncctl.tuning.window import trading_window
from tests.tuning import fakeroot
from tests.tuning.conftest import SATURDAY, WEDNESDAY

NEW_BOOT_ID = "11111111-2222-4333-8444-555555555555"
REBOOT_FILES = {
    "proc/sys/kernel/random/boot_id",
    "proc/cmdline",
    "sys/devices/system/cpu/isolated",
}
NUMA_PROFILE = """\
extends = ["isolated-cores"]
remove = ["hugepages"]

[hugepages]
"2048kB" = { node0 = 256, node1 = 128 }
"1G" = 2
"""


@pytest.fixture
def numa_profile(tmp_path: Path) -> Profile:
    path = tmp_path / "profiles" / "numa.toml"
    path.parent.mkdir()
    path.write_text(NUMA_PROFILE)
    return load_profile(str(path))


def verdicts(plan: Plan) -> dict[str, str]:
    return {i.setting.id: str(i.finding.verdict) for i in plan.items}


def read(root: Path, rel: str) -> str:
    return (root / rel.lstrip("/")).read_text()


def engine_now(text: str) -> tuple[ScheduleEngine, dt.datetime]:
    engine = load_engine(
        builtin_schedule("cme-globex"), [builtin_holidays("cme-2026"), builtin_holidays("cme-2027")]
    )
    now = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("America/Chicago"))
    return engine, now


def rollback_lines(state_dir: Path) -> list[dict[str, object]]:
    path = state_dir / "tuning" / "rollback.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_apply_verify_reboot_verify_rollback_restores_the_tree(
    fake_root: Path, state_dir: Path, numa_profile: Profile
) -> None:
    start = fakeroot.tree(fake_root)
    runner = fakeroot.RecordingRunner()
    tuner = Tuner(Host(fake_root, runner), state_dir)

    plan = tuner.plan(numa_profile)
    found = verdicts(plan)
    assert fakeroot.tree(fake_root) == start  # planning writes nothing
    assert runner.calls == []
    assert found["irq:0"] == "kernel-managed"  # read-only: the kernel places it
    assert found["irq:24"] == "apply"
    assert found["hugepages:2048kB:node1"] == "apply"
    assert found["hugepages:1048576kB"] == "apply"
    assert found["boot:isolcpus"] == "reboot"
    assert plan.boot_backend == "update-grub"
    assert plan.compliance() is Compliance.DRIFT
    assert {i.setting.id for i in plan.disruptive()} >= {"irq:24", "hugepages:2048kB:node0"}

    result = tuner.apply(numa_profile)
    assert [c for c in runner.calls if c[0] != "systemctl"] == [("update-grub",)]
    assert ("systemctl", "restart", "irqbalance.service") in runner.calls  # the banned list
    assert not result.failed
    assert read(fake_root, "proc/sys/net/ipv4/tcp_rmem") == "4096 131072 16777216\n"
    assert read(fake_root, "sys/kernel/mm/transparent_hugepage/enabled") == "never\n"
    assert (
        read(fake_root, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages")
        == "256\n"
    )
    assert (
        read(fake_root, "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages")
        == "128\n"
    )
    assert (
        read(fake_root, "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor") == "performance\n"
    )
    assert read(fake_root, "proc/irq/24/smp_affinity_list") == "0\n"
    assert read(fake_root, "proc/irq/0/smp_affinity_list") == "0-3\n"
    assert read(fake_root, "proc/irq/default_smp_affinity") == "1\n"
    assert read(fake_root, "sys/devices/virtual/workqueue/cpumask") == "1\n"
    sysctl_d = read(fake_root, SYSCTL_FILE)
    assert "net.ipv4.tcp_rmem = 4096 131072 16777216\n" in sysctl_d
    assert "vm.swappiness = 10\n" in sysctl_d
    tmpfiles = read(fake_root, TMPFILES_FILE)
    node_line = (
        "w /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages - - - - 128"
    )
    assert node_line in tmpfiles.splitlines()
    assert "w /sys/kernel/mm/transparent_hugepage/enabled - - - - never" in tmpfiles
    assert "w /proc/irq/default_smp_affinity - - - - 1" in tmpfiles
    assert "/proc/irq/24/" not in tmpfiles  # IRQ numbers change: irqaffinity= persists
    dropin = read(fake_root, DROPIN)
    assert (
        'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} isolcpus=managed_irq,domain,1-3 '
        'nohz_full=1-3 rcu_nocbs=1-3 irqaffinity=0"' in dropin
    )
    assert read(fake_root, "etc/default/grub") == fakeroot.FILES["etc/default/grub"] + "\n"

    after = result.after
    assert after is not None
    found = verdicts(after)
    assert {v for k, v in found.items() if not k.startswith(("boot:", "irq:0"))} == {"ok"}
    assert all(i.finding.staged for i in after.items if i.setting.kind == "boot")
    assert after.compliance() is Compliance.REBOOT_PENDING
    error = compliance_error(after)
    assert error is not None and error.exit_code == 3 and "boot:isolcpus" in error.message

    # the reboot: the boot loader passes the parameters, and the kernel (built without
    # NO_HZ_FULL) isolates CPUs 1-3 but ignores nohz_full
    tokens = ["isolcpus=managed_irq,domain,1-3", "nohz_full=1-3", "rcu_nocbs=1-3", "irqaffinity=0"]
    fakeroot.reboot(fake_root, NEW_BOOT_ID, tokens)
    (fake_root / "sys/devices/system/cpu/isolated").write_text("1-3\n")
    rebooted = tuner.verify(numa_profile)
    by_id = {i.setting.id: i.finding for i in rebooted.items}
    assert by_id["boot:isolcpus"].verdict == "ok"
    assert by_id["boot:rcu_nocbs"].verdict == "ok"
    assert by_id["boot:irqaffinity"].verdict == "ok"
    assert by_id["boot:nohz_full"].verdict == "unsupported"
    assert "ignored nohz_full=1-3" in by_id["boot:nohz_full"].reason
    assert "/sys/devices/system/cpu/nohz_full reads (empty)" in by_id["boot:nohz_full"].reason
    assert rebooted.compliance() is Compliance.UNREACHABLE

    undone = tuner.rollback()
    assert not undone.failed and not undone.of("skip")
    assert undone.reboot_required  # the running kernel keeps its command line
    assert undone.exit_code() == 3
    assert [c for c in runner.calls if c[0] != "systemctl"] == [("update-grub",), ("update-grub",)]
    assert undone.archived is not None
    assert not (state_dir / "tuning" / "rollback.jsonl").exists()

    end = fakeroot.tree(fake_root)
    changed = {k for k in start.keys() | end.keys() if start.get(k) != end.get(k)}
    assert changed == REBOOT_FILES, sorted(changed)


def test_a_reboot_without_the_parameters_is_reported(
    fake_root: Path, state_dir: Path, numa_profile: Profile
) -> None:
    tuner = Tuner(Host(fake_root, fakeroot.RecordingRunner()), state_dir)
    tuner.apply(numa_profile)
    fakeroot.reboot(fake_root, NEW_BOOT_ID, [])  # another entry booted
    plan = tuner.verify(numa_profile)
    finding = next(i.finding for i in plan.items if i.setting.id == "boot:nohz_full")
    assert finding.verdict == "apply"
    assert fakeroot.BOOT_ID in finding.reason and NEW_BOOT_ID in finding.reason
    assert plan.compliance() is Compliance.DRIFT


def test_cmdline_after_double_dash_is_not_the_kernels(fake_root: Path, state_dir: Path) -> None:
    # fakeroot.CMDLINE carries nohz_full=1-3 isolcpus=1-3 after "--": init's, not the kernel's
    plan = Tuner(Host(fake_root, fakeroot.RecordingRunner()), state_dir).plan(
        load_profile("isolated-cores")
    )
    boot = {i.setting.id: i.finding for i in plan.items if i.setting.kind == "boot"}
    assert boot["boot:nohz_full"].current is None
    assert boot["boot:nohz_full"].verdict == "reboot"


def test_grubby_backend_records_and_restores_arguments(fake_root: Path, state_dir: Path) -> None:
    fakeroot.install_grubby(fake_root)
    runner = fakeroot.RecordingRunner("ro root=/dev/sda1 quiet isolcpus=5")
    tuner = Tuner(Host(fake_root, runner), state_dir)
    profile = load_profile("isolated-cores")
    result = tuner.apply(profile)
    assert result.boot is not None and result.boot["backend"] == "grubby"
    update = (
        "grubby",
        "--update-kernel=ALL",
        "--args=isolcpus=managed_irq,domain,1-3 nohz_full=1-3 rcu_nocbs=1-3 irqaffinity=0",
    )
    assert update in runner.calls
    assert not (fake_root / "etc/default/grub.d").exists()  # grubby owns the entries
    after = result.after
    assert after is not None and after.compliance() is Compliance.REBOOT_PENDING
    runner.calls.clear()
    undone = tuner.rollback()
    assert not undone.failed
    updates = [c for c in runner.calls if c[1:2] == ("--update-kernel=ALL",)]
    # newest first: irqaffinity, rcu_nocbs, nohz_full were absent; isolcpus was 5
    assert updates == [
        ("grubby", "--update-kernel=ALL", "--remove-args=irqaffinity"),
        ("grubby", "--update-kernel=ALL", "--remove-args=rcu_nocbs"),
        ("grubby", "--update-kernel=ALL", "--remove-args=nohz_full"),
        ("grubby", "--update-kernel=ALL", "--args=isolcpus=5"),
    ]
    assert sorted(runner.args) == sorted(["ro", "root=/dev/sda1", "quiet", "isolcpus=5"])


def test_a_failed_update_grub_leaves_the_parameters_unstaged(
    fake_root: Path, state_dir: Path
) -> None:
    tuner = Tuner(Host(fake_root, fakeroot.RecordingRunner(fail=True)), state_dir)
    result = tuner.apply(load_profile("isolated-cores"))
    assert [f["id"] for f in result.failed] == ["boot"]
    assert (
        "update-grub failed (exit 1): error: /boot/grub/grub.cfg.new" in result.failed[0]["error"]
    )
    after = result.after
    assert after is not None
    boot = next(i.finding for i in after.items if i.setting.id == "boot:isolcpus")
    assert boot.verdict == "reboot" and not boot.staged
    assert "update-grub has not run successfully" in boot.reason
    assert after.compliance() is Compliance.DRIFT


def test_reapplying_records_each_original_once(
    fake_root: Path, state_dir: Path, tmp_path: Path
) -> None:
    tuner = Tuner(Host(fake_root, fakeroot.RecordingRunner()), state_dir)
    latency = load_profile("latency")
    first = tuner.apply(latency)
    assert first.changed
    before = rollback_lines(state_dir)
    # one original per value, per file, and for the tmpfiles.d directory it had to create
    originals = [r for r in before if r["op"] == "original"]
    assert len(originals) == len(first.changed) + len(first.files) + 1
    again = tuner.apply(latency)
    assert again.changed == [] and again.files == [] and again.boot is None
    assert rollback_lines(state_dir) == before  # nothing recorded, nothing written
    # a changed profile adds the new intended value, never a second original
    other = tmp_path / "other.toml"
    other.write_text('extends = ["latency"]\n[sysctl]\n"vm.swappiness" = 5\n')
    tuner.apply(load_profile(str(other)))
    lines = rollback_lines(state_dir)
    swap = [r for r in lines if r["id"] == "sysctl:vm.swappiness"]
    assert [(r["op"], r.get("original"), r.get("intended")) for r in swap] == [
        ("original", "60\n", "10"),
        ("intended", None, "5"),
    ]
    tuner.rollback()
    assert read(fake_root, "proc/sys/vm/swappiness") == "60\n"


def test_rollback_skips_what_someone_else_changed_unless_forced(
    fake_root: Path, state_dir: Path
) -> None:
    tuner = Tuner(Host(fake_root), state_dir)
    latency = load_profile("latency")
    tuner.apply(latency)
    (fake_root / "proc/sys/vm/swappiness").write_text("30\n")  # an operator, by hand
    result = tuner.rollback()
    skipped = [s.entry.id for s in result.of("skip")]
    assert skipped == ["sysctl:vm.swappiness"]
    assert result.exit_code() == 1
    assert any("changed by someone else" in w and "now 30" in w for w in result.warnings)
    assert read(fake_root, "proc/sys/vm/swappiness") == "30\n"
    assert read(fake_root, "proc/sys/net/core/rmem_max") == "212992\n"  # the rest restored
    assert (state_dir / "tuning" / "rollback.jsonl").exists()  # still open
    with pytest.raises(UsageError, match="--reason"):
        tuner.rollback(force=True)
    forced = tuner.rollback(force=True, reason="ops ticket 4711: back to defaults")
    assert [s.entry.id for s in forced.of("restore")] == ["sysctl:vm.swappiness"]
    assert read(fake_root, "proc/sys/vm/swappiness") == "60\n"
    assert forced.archived is not None
    journal = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(e["command"], e["outcome"]) for e in journal] == [
        ("tune host", "ok"),
        ("tune rollback", "partial"),
        ("tune rollback", "ok"),
    ]
    assert journal[-1]["reason"] == "ops ticket 4711: back to defaults"


def test_disruptive_changes_are_refused_inside_trading_hours(
    fake_root: Path, state_dir: Path
) -> None:
    engine, now = engine_now(WEDNESDAY)
    window = trading_window(engine, now)
    assert window.inside and "OPEN" in window.reason
    assert window.next_outside is not None
    assert window.next_outside.isoformat() == "2026-11-25T16:01:00-06:00"
    start = fakeroot.tree(fake_root)
    tuner = Tuner(Host(fake_root, fakeroot.RecordingRunner()), state_dir)
    profile = load_profile("isolated-cores")
    with pytest.raises(RefusedError) as caught:
        tuner.apply(profile, window=window)
    assert caught.value.code == "schedule.refused"
    assert "moves IRQ 24" in caught.value.message and "2026-11-25T16:01:00" in caught.value.message
    assert fakeroot.tree(fake_root) == start
    assert not (state_dir / "tuning" / "rollback.jsonl").exists()
    with pytest.raises(UsageError):
        tuner.apply(profile, window=window, force=True)
    result = tuner.apply(profile, window=window, force=True, reason="NIC replaced, IRQs moved")
    assert result.overrides == window.reason
    assert read(fake_root, "proc/irq/24/smp_affinity_list") == "0\n"
    # rolling back moves IRQs as well: the same rule
    with pytest.raises(RefusedError):
        tuner.rollback(window=window)
    outside = trading_window(*engine_now(SATURDAY))
    assert not outside.inside
    assert tuner.rollback(window=outside).of("restore")


@pytest.mark.parametrize(
    ("clock", "inside"),
    [
        ("2026-11-22T15:29", True),  # Sunday: order entry up before the pre-open
        ("2026-11-22T15:28", False),
        ("2026-11-25T16:10", False),  # daily maintenance window
        ("2026-11-25T16:30", True),  # order entry back up
        ("2026-11-27T16:01", False),  # Friday after the close
    ],
)
def test_trading_hours(clock: str, inside: bool) -> None:
    engine, now = engine_now(clock)
    assert trading_window(engine, now).inside is inside


def test_a_state_dir_on_tmpfs_is_refused(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/vda / ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\n"
        "tmpfs /var/lib/with\\040space tmpfs rw 0 0\n"
    )
    text = mounts.read_text()
    assert filesystem_type(Path("/var/lib/ncctl"), text) == "ext4"
    assert filesystem_type(Path("/run/ncctl/state"), text) == "tmpfs"
    assert filesystem_type(Path("/var/lib/with space/x"), text) == "tmpfs"
    with pytest.raises(CantCreateError, match="lost at reboot"):
        check_persistent(Path("/run/ncctl"), mounts)
    check_persistent(Path("/var/lib/ncctl"), mounts)


def test_host_wide_settings_are_host_only_in_a_container(fake_root: Path, state_dir: Path) -> None:
    ns = fake_root / "proc/self/ns/net"
    ns.unlink()
    ns.symlink_to("net:[4026532999]")  # our own network namespace
    plan = Tuner(Host(fake_root), state_dir).plan(load_profile("isolated-cores"))
    found = verdicts(plan)
    assert found["sysctl:net.ipv4.tcp_rmem"] == "apply"
    assert found["sysctl:vm.swappiness"] == "host-only"
    assert found["hugepages:2048kB"] == "host-only"
    assert found["boot:isolcpus"] == "host-only"
    reason = next(i.finding.reason for i in plan.items if i.setting.id == "sysctl:vm.swappiness")
    assert "own network namespace" in reason and "vm.swappiness = 10" in reason
    sysctl_d = next(f for f in plan.files if f.path == SYSCTL_FILE)
    assert sysctl_d.desired is not None
    assert b"vm.swappiness" not in sysctl_d.desired  # never persisted from a container
    assert b"net.ipv4.tcp_rmem" in sysctl_d.desired
    tmpfiles = next(f for f in plan.files if f.path == TMPFILES_FILE)
    assert tmpfiles.desired is None and tmpfiles.action == "unchanged"
