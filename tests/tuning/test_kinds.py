"""The layout of tuning: one module per kind of setting, every kind planned, small files, and a
read-only status for metrics."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil
from pathlib import Path

import ncctl.tuning
import ncctl.tuning.kinds
from ncctl.config import TuningConfig
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting
from ncctl.tuning.plan import KERNEL_FILE_KINDS, Setting, expand
from ncctl.tuning.profiles import load_profile, shipped_profiles
from ncctl.tuning.status import tuning_status

SHARED = {"base", "boot_loader"}
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
        classes = [
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if c.__module__ == module.__name__ and hasattr(c, "kind")
        ]
        # the kind a plan shows (JSON "kind") is the module's name
        assert [c.kind for c in classes] == [name], name


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
