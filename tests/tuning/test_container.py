"""In a container every host-wide setting is host-only: the container check comes before the
file checks, so a file's mode (read-only, as a container's /proc often shows it) or absence
(a /sys a container does not see) never turns it into "unsupported"."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import Scope, Verdict
from ncctl.tuning.plan import Compliance
from ncctl.tuning.profiles import load_profile
from ncctl.tuning.tuner import Tuner
from tests.tuning import fakeroot


def own_netns(root: Path) -> None:
    link = root / "proc/self/ns/net"
    link.unlink()
    link.symlink_to("net:[4026532999]")


def user_namespace(root: Path) -> None:
    (root / "proc/self/uid_map").write_text("         0     100000      65536\n")


def unreadable_init(root: Path) -> None:
    """PID 1's namespace hidden; the kernel shows the global net sysctls read-only."""
    (root / "proc/1/ns/net").unlink()
    (root / "proc/sys/net/core/rmem_max").chmod(0o444)


CONTAINERS = {"own-netns": own_netns, "userns": user_namespace, "hidden-init": unreadable_init}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_every_host_wide_setting_is_host_only_in_a_container(
    fake_root: Path, state_dir: Path, container: str
) -> None:
    CONTAINERS[container](fake_root)
    # what a container's view of the host files looks like: some read-only, some missing
    (fake_root / "proc/sys/vm/swappiness").chmod(0o444)
    (fake_root / "sys/kernel/mm/ksm/run").unlink()
    (fake_root / "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").chmod(0o400)
    start = fakeroot.tree(fake_root)
    tuner = Tuner(Host(fake_root, fakeroot.RecordingRunner()), state_dir)
    plan = tuner.plan(load_profile("isolated-cores"))
    host_wide = [i for i in plan.items if i.setting.scope is not Scope.NETNS]
    assert len(host_wide) >= 20
    wrong = {i.setting.id: (i.finding.verdict, i.finding.reason) for i in host_wide}
    wrong = {k: v for k, v in wrong.items() if v[0] is not Verdict.HOST_ONLY}
    assert wrong == {}
    by_id = {i.setting.id: i.finding for i in plan.items}
    assert "ncctl runs in" in by_id["sysfs:/sys/kernel/mm/ksm/run"].reason
    assert "read-only file mode" in by_id["sysctl:vm.swappiness"].reason
    assert by_id["irq:0"].verdict is Verdict.HOST_ONLY  # not "the kernel will not move it"
    netns = [i for i in plan.items if i.setting.scope is Scope.NETNS]
    assert {i.finding.verdict for i in netns} == {Verdict.APPLY}
    assert plan.compliance() is Compliance.DRIFT  # the container's own TCP settings

    result = tuner.apply(load_profile("isolated-cores"))
    assert result.boot is None and not result.failed
    after = result.final
    assert after.compliance() is Compliance.UNREACHABLE
    end = fakeroot.tree(fake_root)
    changed = {k for k in start.keys() | end.keys() if start.get(k) != end.get(k)}
    assert {k for k in changed if not k.startswith(("proc/sys/net/ipv4/", "etc/sysctl.d"))} == set()
