"""The fake root a dev configuration tunes (ncctl/tuning/fakeroot.py): made from what the
profile reads, copied from the live host (here the test tree of tests/tuning/fakeroot.py, or
this machine), whole or absent, never through a link, never over somebody else's tree."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl.errors import CantCreateError, DataError
from ncctl.tuning.fakeroot import MARKER, needed_files, prepare, uses_fake_root
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import Verdict, probe
from ncctl.tuning.plan import Compliance, expand
from ncctl.tuning.profiles import load_profile
from ncctl.tuning.section import TuningConfig
from ncctl.tuning.tuner import Tuner
from tests.helpers import run_in_process
from tests.tuning import fakeroot
from tests.tuning.conftest import SATURDAY, envelope


@pytest.fixture
def live(tmp_path: Path) -> Host:
    """The host whose values are copied: four CPUs, two NUMA nodes, IRQs, cpufreq."""
    return Host(fakeroot.build(tmp_path / "live"))


@pytest.mark.parametrize("name", ["dev", "base", "latency", "isolated-cores"])
def test_every_setting_of_the_profile_is_there_with_the_live_value(
    tmp_path: Path, live: Host, name: str
) -> None:
    profile = load_profile(name)
    root = tmp_path / "dev" / "fakeroot"
    created = prepare(root, profile, live)
    assert (root / MARKER).is_file()
    needed = needed_files(profile, live)
    assert set(created) == {p.lstrip("/") for p in needed if live.read(p) is not None}
    made = Host(root)
    for setting in expand(profile, made).settings:
        assert made.read(setting.path) == live.read(setting.path), setting.path
        finding = probe(setting, made, made.context())
        assert "does not exist" not in finding.reason, (setting.id, finding.reason)
        assert finding.verdict is not Verdict.HOST_ONLY, (setting.id, finding.reason)
    assert not made.context().contained  # a host of its own: every setting can be applied
    for path in root.rglob("*"):
        mode = path.lstat().st_mode & 0o777
        assert path.is_symlink() or mode in (0o700, 0o600), (path, oct(mode))
    assert prepare(root, profile, live) == []  # complete: nothing more to make
    assert sorted(p.name for p in root.parent.iterdir()) == ["fakeroot"]  # no temporary left


def test_a_made_root_is_completed_never_changed(tmp_path: Path, live: Host) -> None:
    root = tmp_path / "fakeroot"
    prepare(root, load_profile("dev"), live)
    rmem = root / "proc/sys/net/ipv4/tcp_rmem"
    rmem.write_text("1 2 3\n")  # as `tune host` on it would
    before = fakeroot.tree(root)
    added = prepare(root, load_profile("latency"), live)
    assert "proc/sys/vm/swappiness" in added
    after = fakeroot.tree(root)
    assert {k: v for k, v in after.items() if k in before} == before
    assert rmem.read_text() == "1 2 3\n"


def test_somebody_elses_tree_is_left_alone(tmp_path: Path, live: Host) -> None:
    root = fakeroot.build(tmp_path / "theirs", boot_loader=False)
    before = fakeroot.tree(root)
    assert prepare(root, load_profile("latency"), live) == []
    assert fakeroot.tree(root) == before


def test_a_link_at_the_root_is_refused(tmp_path: Path, live: Host) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "fakeroot").symlink_to(target)
    with pytest.raises(DataError, match="not a directory"):
        prepare(tmp_path / "fakeroot", load_profile("dev"), live)
    assert list(target.iterdir()) == []


def test_a_file_in_the_way_is_named_and_left(tmp_path: Path, live: Host) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be\n")
    with pytest.raises(CantCreateError, match=str(blocker)):
        prepare(blocker / "fakeroot", load_profile("dev"), live)
    assert blocker.read_text() == "a file where the state directory should be\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Host, Path]:
    """A live tree and the fake root of ``latency`` made from it in one uninterrupted run."""
    directory = tmp_path_factory.mktemp("made")
    live = Host(fakeroot.build(directory / "live"))
    prepare(directory / "whole", load_profile("latency"), live)
    return live, directory / "whole"


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_an_interrupted_making_is_completed(made: tuple[Host, Path], data: st.DataObject) -> None:
    """Whatever a killed run left (an empty directory, or the marker and any of the files
    it writes after it), the next run completes it to the same tree as a run that was never
    interrupted, and changes none of the files already there."""
    live, whole = made
    files = sorted(k for k, v in fakeroot.tree(whole).items() if v[0].startswith("file"))
    kept = data.draw(st.sets(st.sampled_from(files)), label="files left")
    if kept:
        kept.add(MARKER)  # written first: no run leaves files without it
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "interrupted"
        root.mkdir(mode=0o700)
        for rel in sorted(kept):  # as the killed run wrote them: same modes and content
            for parent in reversed(Path(rel).parents[:-1]):
                (root / parent).mkdir(mode=0o700, exist_ok=True)
                (root / parent).chmod(0o700)
            shutil.copy2(whole / rel, root / rel)
        before = {rel: (root / rel).stat().st_ino for rel in kept}
        prepare(root, load_profile("latency"), live)
        assert fakeroot.tree(root) == fakeroot.tree(whole)
        assert {rel: (root / rel).stat().st_ino for rel in kept} == before


def test_only_a_dev_configuration_gets_one() -> None:
    def fake(environment: str, root: str) -> bool:
        return uses_fake_root(environment, TuningConfig.model_validate({"root": root}))

    assert fake("dev", ".ncctl/fakeroot")
    assert not fake("dev", "/")
    assert not fake("prod", "/srv/root")
    assert not fake("staging", ".ncctl/fakeroot")


def test_tune_host_on_the_dev_config_changes_the_fake_root_only(
    capsys: pytest.CaptureFixture[str], private_state_home: Path
) -> None:
    """The embedded dev configuration, through the CLI: this machine's values are read,
    never written."""
    live = Host(Path("/"))
    profile = load_profile("dev")
    paths = [s.path for s in expand(profile, live).settings]
    real = {p: live.read(p) for p in paths}
    applied = run_in_process(capsys, "--clock", SATURDAY, "tune", "host", "--json")
    doc = envelope(applied, "tune host")
    assert doc["data"]["verify"]["status"] == "compliant", doc["data"]
    assert {p: live.read(p) for p in paths} == real
    # the embedded configuration's state (its fake root included) is the per-user one
    made = Host(private_state_home / "fakeroot")
    assert Tuner(made, private_state_home).verify(profile).compliance() is Compliance.COMPLIANT
    assert os.stat(private_state_home / "fakeroot").st_mode & 0o777 == 0o700


def test_a_fake_root_keeps_the_live_topology(tmp_path: Path) -> None:
    live = Host(fakeroot.build_topology(tmp_path / "live", nic_node=1))
    profile = load_profile("isolated-cores")
    root = tmp_path / "fakeroot"
    prepare(root, profile, live)
    made = expand(profile, Host(root)).cpus
    assert made.as_dict() == expand(profile, live).cpus.as_dict()
    assert made.as_dict()["housekeeping"] == "0,4,8,12"  # SMT siblings and the NIC's node
