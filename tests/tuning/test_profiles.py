"""Profiles: ordered ``extends``, ``remove``, validation naming file and key, CPU rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncctl.errors import ConfigError
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import Scope
from ncctl.tuning.plan import expand
from ncctl.tuning.profiles import load_profile, shipped_profiles
from tests.tuning import fakeroot


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_profiles_load_and_chain() -> None:
    assert {"base", "latency", "isolated-cores", "dev"} <= set(shipped_profiles())
    cores = load_profile("isolated-cores")
    assert cores.chain == ("base", "latency", "isolated-cores")
    assert cores.table("sysctl")["vm.swappiness"] == 10  # from latency
    assert "net.ipv4.tcp_rmem" in cores.table("sysctl")  # from base
    assert set(cores.table("boot")) == {"isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity"}
    dev = load_profile("dev")
    assert dev.chain == ("base", "dev")
    # dev keeps only what a container may set for itself
    assert all(name.startswith("net.ipv4.") for name in dev.table("sysctl"))


def test_extends_merges_in_order_and_the_child_wins(tmp_path: Path) -> None:
    write(tmp_path, "a", '[sysctl]\n"vm.swappiness" = 1\n"vm.stat_interval" = 5\n')
    write(tmp_path, "b", '[sysctl]\n"vm.swappiness" = 2\n[thp]\nenabled = "never"\n')
    child = write(
        tmp_path,
        "child",
        'extends = ["a", "b"]\n[sysctl.vm]\nstat_interval = 7\n',
    )
    profile = load_profile(str(child))
    assert profile.chain == ("a", "b", "child")
    assert profile.table("sysctl") == {"vm.swappiness": 2, "vm.stat_interval": 7}
    assert profile.table("thp") == {"enabled": "never"}


def test_remove_drops_inherited_keys_and_tables(tmp_path: Path) -> None:
    write(tmp_path, "parent", '[sysctl]\n"vm.swappiness" = 1\n"kernel.x" = 1\n[irq]\nall = "0"\n')
    child = write(
        tmp_path,
        "child",
        'extends = ["parent"]\nremove = ["sysctl.vm.swappiness", "irq"]\n'
        '[sysctl]\n"vm.stat_interval" = 3\n',
    )
    profile = load_profile(str(child))
    assert profile.table("sysctl") == {"kernel.x": 1, "vm.stat_interval": 3}
    assert profile.table("irq") == {}
    # a child may remove and then set its own value again
    again = write(
        tmp_path,
        "again",
        'extends = ["parent"]\nremove = ["sysctl.vm.swappiness"]\n[sysctl]\n"vm.swappiness" = 9\n',
    )
    assert load_profile(str(again)).table("sysctl")["vm.swappiness"] == 9


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('remove = ["sysctl.vm.nothing"]\nextends = ["p"]\n', "remove names 'sysctl.vm.nothing'"),
        ('extends = ["nope"]\n', "tuning profile 'nope' not found"),
        ("colour = 1\n", "unknown key 'colour'"),
        ('[thp]\nenabled = "ne ver"\n', "thp.enabled: must be one word"),
        ('[hugepages]\n"3X" = 1\n', "hugepages.3X: is not a huge page size"),
        ('[hugepages]\n"2M" = { socket0 = 1 }\n', "hugepages.2M.socket0"),
        ('[boot]\nisolcpus = "1 2"\n', "characters a boot loader would mangle"),
        ('[boot]\ninit = "$(reboot)"\n', "characters a boot loader would mangle"),
        ('[irq]\nnmi = "0"\n', "irq.nmi: is not an IRQ"),
        ('[sysctl]\n"vm.swappiness" = true\n', "sysctl.vm.swappiness"),
        ('[sysfs]\n"../etc/passwd" = 1\n', "is not a path under /sys"),
        ("[sysctl\n", "not valid TOML"),
    ],
)
def test_bad_profiles_name_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    write(tmp_path, "p", '[sysctl]\n"vm.swappiness" = 1\n')
    path = write(tmp_path, "bad", text)
    with pytest.raises(ConfigError) as caught:
        load_profile(str(path))
    assert fragment in caught.value.message
    assert str(path) in caught.value.message
    assert caught.value.exit_code == 78


def test_extends_cycle_is_named(tmp_path: Path) -> None:
    write(tmp_path, "x", 'extends = ["y"]\n')
    write(tmp_path, "y", 'extends = ["x"]\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_profile(str(tmp_path / "x.toml"))


def test_cpu0_stays_housekeeping_unless_the_profile_says_why(
    tmp_path: Path, fake_root: Path
) -> None:
    host = Host(fake_root)
    greedy = write(
        tmp_path, "greedy", '[cpus]\nhousekeeping = "3"\n[boot]\nnohz_full = "{isolated}"\n'
    )
    with pytest.raises(ConfigError, match="CPU 0 would be isolated"):
        expand(load_profile(str(greedy)), host)
    reasoned = write(
        tmp_path,
        "reasoned",
        'isolate_cpu0_reason = "vendor pins its feed thread to CPU 0"\n'
        '[cpus]\nhousekeeping = "3"\n[boot]\nnohz_full = "{isolated}"\n',
    )
    expansion = expand(load_profile(str(reasoned)), host)
    assert expansion.cpus.isolated == {0, 1, 2}
    assert any("vendor pins" in w for w in expansion.warnings)
    overlap = write(tmp_path, "overlap", '[cpus]\nhousekeeping = "0-1"\nisolated = "1-3"\n')
    with pytest.raises(ConfigError, match="both housekeeping and isolated"):
        expand(load_profile(str(overlap)), host)


def test_weakening_tcp_needs_an_opt_in_and_warns(tmp_path: Path, fake_root: Path) -> None:
    host = Host(fake_root)
    plain = write(tmp_path, "plain", '[sysctl]\n"net.ipv4.tcp_timestamps" = 0\n')
    with pytest.raises(ConfigError, match="PAWS") as caught:
        expand(load_profile(str(plain)), host)
    assert "weaken_tcp_reason" in caught.value.hint
    opted = write(
        tmp_path,
        "opted",
        'weaken_tcp_reason = "exchange link is lossless and RTT is fixed"\n'
        '[sysctl]\n"net.ipv4.tcp_timestamps" = 0\n',
    )
    expansion = expand(load_profile(str(opted)), host)
    assert any("PAWS" in w and "lossless" in w for w in expansion.warnings)
    # turning it on needs no opt-in
    on = write(tmp_path, "on", '[sysctl]\n"net.ipv4.tcp_timestamps" = 1\n')
    assert expand(load_profile(str(on)), host).warnings == []


def test_isolated_cores_expands_for_this_host(fake_root: Path) -> None:
    expansion = expand(load_profile("isolated-cores"), Host(fake_root))
    assert expansion.cpus.as_dict() == {"online": "0-3", "housekeeping": "0", "isolated": "1-3"}
    by_id = {s.id: s for s in expansion.settings}
    assert by_id["sysctl:net.ipv4.tcp_rmem"].scope is Scope.NETNS
    assert by_id["sysctl:net.core.rmem_max"].scope is Scope.HOST
    assert by_id["sysctl:kernel.watchdog_cpumask"].desired == "0"
    assert {f"governor:cpu{c}" for c in fakeroot.CPUS} <= set(by_id)
    assert {f"irq:{n}" for n in fakeroot.IRQS} | {"irq:default"} <= set(by_id)
    assert by_id["sysfs:/sys/devices/virtual/workqueue/cpumask"].write_text() == "1"
    tokens = [p.token() for p in expansion.boot]
    assert tokens == [
        "isolcpus=managed_irq,domain,1-3",
        "nohz_full=1-3",
        "rcu_nocbs=1-3",
        "irqaffinity=0",
    ]


def test_a_one_cpu_host_has_nothing_to_isolate(fake_root: Path) -> None:
    (fake_root / "sys/devices/system/cpu/online").write_text("0\n")
    expansion = expand(load_profile("isolated-cores"), Host(fake_root))
    assert all(p.impossible for p in expansion.boot if p.name != "irqaffinity")


@pytest.mark.parametrize(
    ("cpus", "message"),
    [
        ('nic = "../../etc"', "cpus.nic: must be interface names"),
        ('nic = "eth0,"', "cpus.nic: must be interface names"),
        ("nic = 1", "cpus.nic: must be interface names"),
        ('isolated = "most"', "cpus: 'most' is not a CPU number"),
    ],
)
def test_bad_cpu_keys_name_the_file_and_key(
    tmp_path: Path, fake_root: Path, cpus: str, message: str
) -> None:
    path = write(tmp_path, "bad", f'extends = ["isolated-cores"]\n[cpus]\n{cpus}\n')
    with pytest.raises(ConfigError, match=message) as caught:
        expand(load_profile(str(path)), Host(fake_root))
    assert str(path) in caught.value.message


def test_named_nics_keep_a_housekeeping_core_on_their_node(tmp_path: Path, state_dir: Path) -> None:
    root = fakeroot.build_topology(tmp_path / "root", smt=False, nic_node=1)
    named = write(tmp_path, "nic", 'extends = ["isolated-cores"]\n[cpus]\nnic = "ens1f0"\n')
    other = write(tmp_path, "other", 'extends = ["isolated-cores"]\n[cpus]\nnic = "ens9"\n')
    assert expand(load_profile(str(named)), Host(root)).cpus.as_dict()["housekeeping"] == "0,8"
    assert expand(load_profile(str(other)), Host(root)).cpus.as_dict()["housekeeping"] == "0"
