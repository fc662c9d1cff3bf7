"""The layout of tuning: one module per kind of setting, every kind planned, small files, and a
read-only status for metrics."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import ncctl.tuning
import ncctl.tuning.kinds
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting
from ncctl.tuning.plan import KERNEL_FILE_KINDS, SETTING_CLASSES, Setting, expand
from ncctl.tuning.profiles import load_profile, shipped_profiles
from ncctl.tuning.section import TuningConfig
from ncctl.tuning.status import tuning_status

SHARED = {"base", "boot_loader", "boot_state"}
"""Modules of ncctl.tuning.kinds that are not a kind."""
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def kind_modules() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(ncctl.tuning.kinds.__path__)]
    return sorted(set(names) - SHARED)


def test_every_kind_module_is_planned_and_names_its_kind() -> None:
    planned = {m.__name__.rsplit(".", 1)[1] for m in KERNEL_FILE_KINDS} | {"boot"}
    assert set(kind_modules()) == planned
    for name in kind_modules():
        module = importlib.import_module(f"ncctl.tuning.kinds.{name}")
        assert callable(module.expand), name
        classes = {
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if c.__module__ == module.__name__ and hasattr(c, "kind")
        }
        # the kind a plan shows (JSON "kind") is the module's name
        assert [c.kind for c in classes] == [name], name
        assert module.SETTING.kind == name, name


def test_settings_of_every_shipped_profile_come_from_their_kind_module(fake_root: Path) -> None:
    host = Host(fake_root)
    count = 0
    for name in shipped_profiles():
        expansion = expand(load_profile(name), host)
        settings: list[Setting] = [*expansion.settings, *expansion.boot]
        for setting in settings:
            assert type(setting).__module__ == f"ncctl.tuning.kinds.{setting.kind}"
            assert isinstance(setting, KernelSetting) == (setting.kind != "boot")
            count += 1
    assert count > 0


def test_no_tuning_file_over_500_lines() -> None:
    top = Path(ncctl.tuning.__file__).parent
    sizes = {p.relative_to(top): len(p.read_text("utf-8").splitlines()) for p in top.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > 500} == {}


def test_status_reads_and_creates_nothing(fake_root: Path, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    section = TuningConfig(profile="latency", root=fake_root)
    before = sorted(fake_root.rglob("*"))
    status = tuning_status(section, state_dir, NOW)
    assert status is not None and status.profile == "latency"
    assert status.state in ("compliant", "drift", "reboot-pending", "unsupported")
    assert status.compliant == (status.state == "compliant")
    assert not state_dir.exists()
    assert sorted(fake_root.rglob("*")) == before
    missing = TuningConfig(profile="latency", root=tmp_path / "no-such-root")
    assert tuning_status(missing, state_dir, NOW) is None


PATHS = {
    "hugepages": st.builds(
        "/sys/devices/system/node/node{}/hugepages/hugepages-{}kB/nr_hugepages".format,
        st.integers(0, 7),
        st.sampled_from([2048, 1048576]),
    ),
    "irq": st.one_of(
        st.just("/proc/irq/default_smp_affinity"),
        st.integers(0, 4095).map("/proc/irq/{}/smp_affinity_list".format),
    ),
    "sysctl": st.just("/proc/sys/vm/swappiness"),
    "sysfs": st.just("/sys/kernel/mm/ksm/run"),
    "thp": st.just("/sys/kernel/mm/transparent_hugepage/enabled"),
    "governor": st.integers(0, 63).map(
        "/sys/devices/system/cpu/cpu{}/cpufreq/scaling_governor".format
    ),
    "cores": st.integers(0, 63).map(
        "/sys/devices/system/cpu/cpu{}/topology/thread_siblings_list".format
    ),
    "": st.sampled_from(["/etc/sysctl.d/99-ncctl.conf", "/etc/default/grub.d", "isolcpus"]),
}
"""Paths of rollback journal entries by their setting kind ("": files, directories, grubby)."""


@given(st.sampled_from(sorted(PATHS)).flatmap(lambda k: st.tuples(st.just(k), PATHS[k])))
def test_restoring_disrupts_huge_page_pools_and_irqs_but_not_the_default_mask(
    entry: tuple[str, str],
) -> None:
    kind, path = entry
    assert set(PATHS) == {*SETTING_CLASSES, ""}
    setting = SETTING_CLASSES.get(kind)
    disrupts = setting is not None and setting.restoring_disrupts(path)
    assert disrupts == (kind in ("hugepages", "irq") and not path.endswith("default_smp_affinity"))
