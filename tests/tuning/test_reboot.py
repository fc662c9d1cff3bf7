"""A full reboot of each fake host tree: apply, rebuild /proc and /sys (fresh values, NIC queue
IRQs renumbered, a new boot id, the staged kernel command line active), replay only what ncctl
persisted (sysctl.d, tmpfiles.d, the boot unit's command run against the root), then verify
exits 0; and a rollback after the reboot still restores what was there before the apply."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from ncctl.appconfig.load import load_file
from ncctl.install.units import TUNE_BOOT_UNIT, generate_units
from ncctl.tuning.cpuset import parse_cpulist
from ncctl.tuning.host import Host
from ncctl.tuning.persist import SYSCTL_FILE, TMPFILES_FILE
from ncctl.tuning.pin_files import IRQBALANCE_FILE, SYSTEMD_AFFINITY_FILE
from ncctl.tuning.plan import Compliance
from ncctl.tuning.profiles import load_profile
from ncctl.tuning.tuner import Tuner
from tests.helpers import NCCTL_BIN, run_in_process
from tests.tuning import fakeroot
from tests.tuning.conftest import SATURDAY, envelope, write_config
from tests.tuning.test_topology import NEW_BOOT_ID, TREES

QUEUES_BEFORE = (60, 61, 62, 63)
QUEUES_AFTER = (70, 71, 72, 73)
"""The NIC's queue IRQs: numbered anew at every boot."""
PROFILE = """extends = ["isolated-cores"]
[pin]
irqbalance = "ban"
systemd_affinity = true
"""


def build(root: Path, tree: dict[str, Any], queues: tuple[int, ...]) -> Path:
    fakeroot.build_topology(root, **tree["build"])
    for irq in queues:
        path = root / f"proc/irq/{irq}/smp_affinity_list"
        path.parent.mkdir(parents=True)
        path.write_text("0-15\n")
    (root / "etc/default/irqbalance").write_text('#IRQBALANCE_ONESHOT=\nOPTIONS=""\n')
    return root


def rebuild(root: Path, scratch: Path, tree: dict[str, Any], tokens: list[str]) -> None:
    """Power off and on: /proc and /sys as the kernel makes them at boot, /etc kept."""
    fresh = build(scratch, tree, QUEUES_AFTER)
    for top in ("proc", "sys"):
        shutil.rmtree(root / top)
        (fresh / top).rename(root / top)
    fakeroot.reboot(root, NEW_BOOT_ID, tokens)
    isolated = next(t for t in tokens if t.startswith("nohz_full=")).partition("=")[2]
    for rel in ("sys/devices/system/cpu/isolated", "sys/devices/system/cpu/nohz_full"):
        (root / rel).write_text(isolated + "\n")


def replay(root: Path) -> int:
    """What systemd-sysctl and systemd-tmpfiles do at boot with ncctl's files; lines done."""
    done = 0
    for line in (root / SYSCTL_FILE.lstrip("/")).read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition(" = ")
            (root / "proc/sys" / key.replace(".", "/")).write_text(value + "\n")
            done += 1
    for line in (root / TMPFILES_FILE.lstrip("/")).read_text().splitlines():
        if line.startswith("w "):
            fields = line.split(maxsplit=6)
            (root / fields[1].lstrip("/")).write_text(fields[6].replace("%%", "%") + "\n")
            done += 1
    return done


def boot_unit_argv(config_path: Path, base: Path) -> list[str]:
    """The ExecStart= of the generated boot unit, without the program, for run_in_process."""
    config, _ = load_file(config_path)
    text = generate_units(config, ncctl=NCCTL_BIN, base=base, config_path=config_path)[
        TUNE_BOOT_UNIT
    ]
    line = next(li for li in text.splitlines() if li.startswith("ExecStart="))
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0] == str(NCCTL_BIN)
    return argv[1:]


def etc(root: Path) -> fakeroot.Snapshot:
    return {k: v for k, v in fakeroot.tree(root).items() if k.startswith(("etc", "boot"))}


@pytest.mark.parametrize("name", sorted(TREES))
def test_a_full_reboot_verifies_clean_from_the_persisted_files_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    tree = TREES[name]
    root = build(tmp_path / "root", tree, QUEUES_BEFORE)
    state = tmp_path / "state"
    profile_path = tmp_path / "pinned.toml"
    profile_path.write_text(PROFILE)
    config = write_config(tmp_path / "cfg" / "ncctl.toml", state, root, str(profile_path))
    before = etc(root)
    tuner = Tuner(Host(root, fakeroot.RecordingRunner(root=root)), state)
    applied = tuner.apply(load_profile(str(profile_path)))
    assert not applied.failed, applied.failed
    assert applied.final.compliance() is Compliance.REBOOT_PENDING
    hk = tree["housekeeping"]
    banned = (root / IRQBALANCE_FILE.lstrip("/")).read_text()
    assert f"IRQBALANCE_BANNED_CPULIST={tree['isolated']}" in banned.splitlines()
    assert 'OPTIONS=""' in banned.splitlines()  # the rest of the file kept
    affinity = (root / SYSTEMD_AFFINITY_FILE.lstrip("/")).read_text()
    assert f"CPUAffinity={hk.replace(',', ' ')}" in affinity.splitlines()

    tokens = [i.setting.desired for i in applied.final.items if i.setting.kind == "boot"]
    rebuild(root, tmp_path / "fresh", tree, tokens)
    assert replay(root) > 0
    argv = boot_unit_argv(config, tmp_path)
    journal = state / "tuning/rollback.jsonl"
    journaled = journal.read_bytes()
    at = argv.index("--config") + 2
    reapplied = run_in_process(capsys, *argv[:at], "--clock", SATURDAY, *argv[at:], "--json")
    assert reapplied.code == 0, reapplied.out
    doc = envelope(reapplied, "tune reapply")
    assert journal.read_bytes() == journaled  # no rollback journal entry of its own
    changed = {c["id"] for c in doc["data"]["changed"]}
    assert {f"irq:{n}" for n in QUEUES_AFTER} <= changed
    for irq in QUEUES_AFTER:
        current = (root / f"proc/irq/{irq}/smp_affinity_list").read_text()
        assert parse_cpulist(current) == parse_cpulist(hk)

    verified = run_in_process(capsys, "--config", config, "--clock", SATURDAY, "tune", "verify")
    assert verified.code == 0, verified.out + verified.err

    rolled = tuner.rollback()  # update-grub cannot run in the tree: the recording runner
    assert rolled.exit_code() == int(Compliance.REBOOT_PENDING), rolled.failed
    assert not rolled.of("skip")
    assert {s.entry.id for s in rolled.of("gone")} == {f"irq:{n}" for n in QUEUES_BEFORE}
    after = etc(root)
    # the boot loader regenerated from the restored /etc/default/grub: the same grub.cfg
    assert after == before, sorted(set(after.items()) ^ set(before.items()))


def test_reapply_does_nothing_when_no_profile_is_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = TREES["smt"]
    root = build(tmp_path / "root", tree, QUEUES_BEFORE)
    config = write_config(
        tmp_path / "cfg" / "ncctl.toml", tmp_path / "state", root, "isolated-cores"
    )
    before = fakeroot.tree(root)
    done = run_in_process(
        capsys, "--config", config, "--clock", SATURDAY, "tune", "reapply", "--json"
    )
    doc = envelope(done, "tune reapply")
    assert done.code == 0  # at boot on a host ncctl never tuned: not a failed unit
    assert doc["data"]["active"] is False
    assert doc["data"]["changed"] == []
    assert fakeroot.tree(root) == before
