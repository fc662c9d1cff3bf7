"""Whole-core isolation from the host's topology: SMT siblings, NUMA nodes, the NIC's node,
kernel-managed IRQs; the staged boot parameters and the IRQ plan of each fake tree, and the
rule in general (hypothesis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncctl.tuning.cpus import divide
from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist, parse_cpumask
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting, Verdict
from ncctl.tuning.plan import Compliance, Plan
from ncctl.tuning.profiles import load_profile
from ncctl.tuning.topology import make_topology
from ncctl.tuning.tuner import Tuner
from tests.tuning import fakeroot
from tests.tuning.conftest import Tune, envelope, write_config

NEW_BOOT_ID = "11111111-2222-4333-8444-555555555555"
MANAGED = (40, 41, 42, 43)

TREES: dict[str, dict[str, Any]] = {
    # 16 CPUs, 2 sockets, SMT siblings n and n+8: CPU 0's sibling 8 is housekeeping too
    "smt": {"build": {"smt": True}, "housekeeping": "0,8", "isolated": "1-7,9-15"},
    # the same sockets without SMT: every CPU is a core
    "no-smt": {"build": {"smt": False}, "housekeeping": "0", "isolated": "1-15"},
    # the NIC on node 1 (CPUs 4-7,12-15): its first core, 4 and 12, is added
    "nic-node1": {
        "build": {"smt": True, "nic_node": 1},
        "housekeeping": "0,4,8,12",
        "isolated": "1-3,5-7,9-11,13-15",
    },
    # NVMe queues the kernel manages and will not move
    "managed-irqs": {
        "build": {"smt": True, "managed": MANAGED},
        "housekeeping": "0,8",
        "isolated": "1-7,9-15",
    },
}


def plan_of(root: Path, state_dir: Path, profile: str = "isolated-cores") -> Plan:
    return Tuner(Host(root, fakeroot.RecordingRunner()), state_dir).plan(load_profile(profile))


@pytest.mark.parametrize("name", sorted(TREES))
def test_each_tree_stages_whole_cores_and_plans_irqs_on_housekeeping(
    tmp_path: Path, state_dir: Path, name: str
) -> None:
    tree = TREES[name]
    root = fakeroot.build_topology(tmp_path / "root", **tree["build"])
    plan = plan_of(root, state_dir)
    hk, iso = tree["housekeeping"], tree["isolated"]
    assert plan.cpus.as_dict() == {"online": "0-15", "housekeeping": hk, "isolated": iso}
    boot = {i.setting.id: i.setting.desired for i in plan.items if i.setting.kind == "boot"}
    assert boot == {
        "boot:isolcpus": f"isolcpus=managed_irq,domain,{iso}",
        "boot:nohz_full": f"nohz_full={iso}",
        "boot:rcu_nocbs": f"rcu_nocbs={iso}",
        "boot:irqaffinity": f"irqaffinity={hk}",
    }
    irqs = {i.setting.id: i for i in plan.items if i.setting.kind == "irq"}
    managed = {f"irq:{n}" for n in tree["build"].get("managed", ())}
    assert set(irqs) == {"irq:default", *(f"irq:{n}" for n in fakeroot.IRQS), *managed}
    default = irqs["irq:default"].setting
    assert isinstance(default, KernelSetting)
    assert parse_cpumask(default.write_text()) == parse_cpulist(hk)
    movable = {k for k in irqs if k not in managed | {"irq:0", "irq:default"}}
    assert {irqs[k].setting.desired for k in movable} == {hk}
    assert {irqs[k].finding.verdict for k in movable} == {Verdict.APPLY}
    for key in managed | {"irq:0"}:
        finding = irqs[key].finding
        assert finding.verdict is Verdict.KERNEL_MANAGED, (key, finding)
        assert not irqs[key].drifting
    for key in managed:
        assert "IRQD_AFFINITY_MANAGED" in irqs[key].finding.reason
    assert not [i for i in plan.items if i.setting.kind == "cores"]
    noted = [w for w in plan.warnings if "NUMA node" in w]
    if name == "nic-node1":
        assert noted == [
            "NUMA node 1 holds NIC ens1f0 but no housekeeping core: CPUs 4,12 (its first "
            "core) added to housekeeping"
        ]
    else:
        assert noted == []
    assert any("whole cores" in w for w in plan.warnings) is tree["build"]["smt"]


def test_an_isolated_cpu_sharing_a_core_with_housekeeping_is_flagged(
    tmp_path: Path, state_dir: Path
) -> None:
    root = fakeroot.build_topology(tmp_path / "root")
    profile = tmp_path / "explicit.toml"
    profile.write_text('extends = ["isolated-cores"]\n[cpus]\nisolated = "1-15"\n')
    plan = plan_of(root, state_dir, str(profile))
    assert plan.cpus.as_dict()["housekeeping"] == "0"  # the explicit list wins
    flagged = [i for i in plan.items if i.setting.kind == "cores"]
    assert [i.setting.id for i in flagged] == ["cores:cpu8"]
    finding = flagged[0].finding
    assert finding.verdict is Verdict.UNSUPPORTED
    assert "isolated CPU 8 shares its core with housekeeping CPU 0" in finding.reason
    applied = Tuner(Host(root, fakeroot.RecordingRunner()), state_dir).apply(
        load_profile(str(profile))
    )
    assert "cores:cpu8" in {i.setting.id for i in applied.final.items}
    assert applied.final.compliance() is Compliance.REBOOT_PENDING


def test_isolated_cores_verifies_clean_after_a_reboot_with_managed_irqs(
    tmp_path: Path, state_dir: Path
) -> None:
    root = fakeroot.build_topology(tmp_path / "root", managed=MANAGED)
    runner = fakeroot.RecordingRunner()
    tuner = Tuner(Host(root, runner), state_dir)
    profile = load_profile("isolated-cores")
    result = tuner.apply(profile)
    assert not result.failed, result.failed
    assert result.final.compliance() is Compliance.REBOOT_PENDING
    tokens = [i.setting.desired for i in result.final.items if i.setting.kind == "boot"]
    fakeroot.reboot(root, NEW_BOOT_ID, tokens)
    for rel in ("sys/devices/system/cpu/isolated", "sys/devices/system/cpu/nohz_full"):
        (root / rel).write_text("1-7,9-15\n")
    after = tuner.verify(profile)
    by_verdict: dict[str, set[str]] = {}
    for item in after.items:
        by_verdict.setdefault(str(item.finding.verdict), set()).add(item.setting.id)
    assert by_verdict.get("kernel-managed") == {"irq:0", *(f"irq:{n}" for n in MANAGED)}
    assert set(by_verdict) == {"ok", "kernel-managed"}, by_verdict
    reason = next(i.finding.reason for i in after.items if i.setting.id == "irq:40")
    assert "isolcpus=managed_irq,domain,1-7,9-15 keeps it off the isolated CPUs" in reason
    assert after.compliance() is Compliance.COMPLIANT


def test_a_write_refused_with_eio_is_kernel_managed_not_a_failure(
    tmp_path: Path, state_dir: Path
) -> None:
    import errno

    root = fakeroot.build_topology(tmp_path / "root")
    tuner = Tuner(Host(root, fakeroot.RecordingRunner()), state_dir)
    boot_id = Host(root).boot_id()
    tuner.site.record.note_refusal("irq:24", OSError(errno.EIO, "Input/output error"), boot_id)
    plan = tuner.plan(load_profile("isolated-cores"))
    finding = next(i.finding for i in plan.items if i.setting.id == "irq:24")
    assert finding.verdict is Verdict.KERNEL_MANAGED
    assert "EIO" in finding.reason and "may run on isolated CPUs" in finding.reason


@st.composite
def topologies(draw: st.DrawFn) -> tuple[Any, CpuSet, dict[str, int]]:
    cores = draw(st.integers(1, 12))
    threads = draw(st.integers(1, 4))
    interleaved = draw(st.booleans())
    cpus_of: list[set[int]] = []
    for number in range(cores):
        if interleaved:  # siblings n, n+cores, ... (x86 numbering)
            cpus_of.append({number + t * cores for t in range(threads)})
        else:  # siblings adjacent (n, n+1: POWER, some ARM)
            cpus_of.append({number * threads + t for t in range(threads)})
    all_cpus = set().union(*cpus_of)
    offline = draw(st.sets(st.sampled_from(sorted(all_cpus)), max_size=len(all_cpus) - 1))
    online = frozenset(all_cpus - offline)
    siblings = {c: frozenset(core) for core in cpus_of for c in core}
    node_count = draw(st.integers(1, 3))
    nodes: dict[int, set[int]] = {}
    for index, members in enumerate(cpus_of):
        nodes.setdefault(index * node_count // cores, set()).update(members)
    topology = make_topology(online, siblings, {n: frozenset(c) for n, c in nodes.items()})
    housekeeping = frozenset(draw(st.sets(st.sampled_from(sorted(online)), min_size=1)))
    nics = draw(st.dictionaries(st.sampled_from(["eth0", "eth1"]), st.integers(0, 3)))
    return topology, housekeeping, nics


@given(topologies())
def test_no_isolated_cpu_shares_a_core_with_housekeeping(
    case: tuple[Any, CpuSet, dict[str, int]],
) -> None:
    topology, housekeeping, nics = case
    division = divide(topology, housekeeping, None, nics)
    hk, iso = division.housekeeping, division.isolated
    assert hk | iso == topology.online
    assert not hk & iso
    assert housekeeping <= hk
    assert division.shared == {}
    for cpu in iso:
        assert not topology.core_of(cpu) & hk, (cpu, format_cpulist(hk))
    for node in set(nics.values()):
        if topology.nodes.get(node):
            assert hk & topology.nodes[node]  # every NIC's node keeps a housekeeping core


def test_plan_text_shows_kernel_managed_irqs_and_the_added_core(
    tmp_path: Path, state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fakeroot.build_topology(tmp_path / "root", nic_node=1, managed=MANAGED)
    tune = Tune(capsys, write_config(tmp_path / "c.toml", state_dir, root, "isolated-cores"))
    result = tune("plan", json_mode=False)
    assert result.code == 0, result.err
    assert "5 kernel-managed" in result.out  # IRQs 40-43 and the read-only IRQ 0
    assert "CPUs 4,12 (its first core) added to housekeeping" in result.err
    doc = envelope(tune("plan"), "tune plan")
    assert doc["data"]["topology"]["smt"] is True
    assert doc["data"]["topology"]["nodes"] == {"0": "0-3,8-11", "1": "4-7,12-15"}
