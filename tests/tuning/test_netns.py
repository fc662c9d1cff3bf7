"""Real writes of namespaced sysctls inside ``unshare -n`` network namespaces.

``net.ipv4.tcp_*`` belong to the network namespace, so a fresh one can be tuned, verified
and rolled back for real while the host keeps its values. ``vm.*`` and ``net.core.*`` are
host-wide: from inside a namespace ncctl must report them host-only, never write them. Each
case runs once as root (``unshare -n -m``) and once as an unprivileged user in its own user
namespace (``setpriv --reuid=65534 … unshare -r -n -m``). The mount namespace only puts a
scratch directory over /etc/sysctl.d and /etc/tmpfiles.d, so that persistence is written
for real without touching this machine's /etc.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tuning import fakeroot

REPO = Path(__file__).resolve().parents[2]
NAMES = [
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_syn_retries",
    "vm.swappiness",
    "net.core.rmem_max",
]
UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
MODES = {
    "root": ["unshare", "-n", "-m"],
    "unprivileged": [*UNPRIVILEGED, "unshare", "-r", "-n", "-m"],
}


def sysctl(name: str) -> str:
    return Path("/proc/sys", name.replace(".", "/")).read_text().strip()


def host_values() -> dict[str, str]:
    return {name: sysctl(name) for name in NAMES}


def hidden_from_others(path: Path) -> list[Path]:
    """Directories on the way to ``path`` that users other than their owner cannot enter."""
    return [d for d in reversed(path.parents) if not d.stat().st_mode & 0o001]


def expose_interpreter(shared: Path) -> list[str]:
    """A prefix that lets uid 65534 run this interpreter, or [] when it already can.

    A virtualenv made from a pyenv Python under /root (mode 0700, as on this machine)
    cannot be executed by uid 65534. A private mount namespace of root's own puts over
    /root a directory holding only the interpreter's tree; everything inside the network
    namespace stays real.
    """
    real = Path(sys.executable).resolve()
    hidden = hidden_from_others(real)
    if not hidden:
        return []
    if len(hidden) > 1:
        pytest.skip(f"{real} sits under several directories closed to others: {hidden}")
    blocked = hidden[0]
    child = real.relative_to(blocked).parts[0]
    expose = shared / "expose"
    script = (
        f"mkdir -p {expose / child} && chmod 755 {expose} && "
        f"mount --bind {blocked / child} {expose / child} && "
        f'mount --rbind {expose} {blocked} && exec "$@"'
    )
    return ["unshare", "-m", "sh", "-c", script, "sh"]


def refusal(prefix: list[str]) -> str | None:
    """Why this machine refuses the namespaces (the exact error), or None."""
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return "util-linux unshare/setpriv not installed"
    probe = subprocess.run(
        [*prefix, "true"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        return f"`{' '.join(prefix)} true` failed here: {probe.stderr.strip()}"
    return None


@pytest.fixture
def shared() -> Iterator[Path]:
    """A scratch directory the unprivileged user can use (pytest's tmp_path is root-only)."""
    top = Path(tempfile.mkdtemp(prefix="ncctl-netns-"))
    top.chmod(0o777)
    for sub in ("sysctl.d", "tmpfiles.d", "state"):
        (top / sub).mkdir(mode=0o777)
        (top / sub).chmod(0o777)
    yield top
    shutil.rmtree(top)


@pytest.fixture
def guard_host() -> Iterator[dict[str, str]]:
    """The host's values before the test; put back if a bug ever changed them (the test
    asserts they did not change, so such a bug still fails it)."""
    before = host_values()
    yield before
    for name, value in before.items():
        if sysctl(name) != value:
            Path("/proc/sys", name.replace(".", "/")).write_text(value + "\n")


def different(value: str, *options: str) -> str:
    return next(o for o in options if o.split() != value.split())


def write_profile(shared: Path, host: dict[str, str]) -> Path:
    rmem = different(host["net.ipv4.tcp_rmem"], "4096 87380 8388608", "4096 65536 4194304")
    swappiness = different(host["vm.swappiness"], "1", "2")
    rmem_max = str(int(host["net.core.rmem_max"]) + 4096)
    path = shared / "netns.toml"
    path.write_text(
        'extends = ["dev"]\n[sysctl]\n'
        f'"net.ipv4.tcp_rmem" = "{rmem}"\n'
        f'"vm.swappiness" = {swappiness}\n'
        f'"net.core.rmem_max" = {rmem_max}\n'
        # beyond the kernel's maximum of 127: the write is refused with EINVAL
        '"net.ipv4.tcp_syn_retries" = 500\n'
    )
    path.chmod(0o644)
    return path


def run_session(prefix: list[str], shared: Path, profile: Path) -> dict[str, Any]:
    config = shared / "ncctl.toml"
    config.write_text(f'state_dir = "{shared / "state"}"\n')
    config.chmod(0o644)
    script = (
        f"mount --bind {shared / 'sysctl.d'} /etc/sysctl.d && "
        f"mount --bind {shared / 'tmpfiles.d'} /etc/tmpfiles.d && "
        f'exec "$0" -m tests.tuning.netns_child "$@"'
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(shared),
        "NCCTL_CACHE_DIR": "off",
        "COLUMNS": "200",
    }
    proc = subprocess.run(
        [*prefix, "sh", "-c", script, sys.executable, str(config), str(profile), *NAMES],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict)
    return doc


def by_id(step: dict[str, Any], key: str = "settings") -> dict[str, dict[str, Any]]:
    data = step["doc"]["data"]
    rows = (data.get("verify") or data)[key]
    return {row["id"]: row for row in rows}


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
def test_tcp_sysctls_in_a_network_namespace(
    mode: str, shared: Path, guard_host: dict[str, str]
) -> None:
    prefix = MODES[mode]
    why = refusal(prefix)
    if why:
        pytest.skip(why)
    if mode == "unprivileged":
        prefix = [*expose_interpreter(shared), *prefix]
    # ncctl writes only into directories of its own user, not writable by others
    for sub in ("sysctl.d", "tmpfiles.d", "state"):
        os.chown(shared / sub, 65534 if mode == "unprivileged" else 0, -1)
        (shared / sub).chmod(0o755)
    profile = write_profile(shared, guard_host)
    out = run_session(prefix, shared, profile)
    steps = out["steps"]

    plan = by_id(steps["plan"])
    assert steps["plan"]["code"] == 0
    assert steps["plan"]["doc"]["data"]["context"]["contained"] is True
    assert plan["sysctl:net.ipv4.tcp_rmem"]["verdict"] == "apply"
    assert plan["sysctl:net.ipv4.tcp_rmem"]["scope"] == "netns"
    swap = plan["sysctl:vm.swappiness"]
    assert swap["verdict"] == "host-only" and swap["scope"] == "host"
    assert "the host operator must set vm.swappiness" in swap["reason"]
    if mode == "root":
        assert "own network namespace" in swap["reason"]  # writable, yet the host's
    else:
        assert "not writable by this user" in swap["reason"]
    rmem_max = plan["sysctl:net.core.rmem_max"]
    assert rmem_max["verdict"] == "host-only"
    assert "read-only" in rmem_max["reason"]

    host = steps["host"]
    assert host["code"] == 4, host["doc"]  # host-only and refused settings remain
    assert host["doc"]["error"]["code"] == "tune.unsupported"
    failed = host["doc"]["data"]["failed"]
    assert [f["id"] for f in failed] == ["sysctl:net.ipv4.tcp_syn_retries"]
    after = by_id(host)
    for name in ("tcp_rmem", "tcp_wmem", "tcp_slow_start_after_idle"):
        assert after[f"sysctl:net.ipv4.{name}"]["verdict"] == "ok"
    refused = after["sysctl:net.ipv4.tcp_syn_retries"]
    assert refused["verdict"] == "unsupported" and "EINVAL" in refused["reason"]
    applied = out["values"]["applied"]
    desired = plan["sysctl:net.ipv4.tcp_rmem"]["desired"]
    assert applied["net.ipv4.tcp_rmem"].split() == desired.split()  # read back with tabs
    assert applied["net.ipv4.tcp_slow_start_after_idle"] == "0"
    assert applied["vm.swappiness"] == out["values"]["start"]["vm.swappiness"]
    persisted = out["persisted"]
    assert f"net.ipv4.tcp_rmem = {desired}\n" in persisted
    assert "vm.swappiness" not in persisted and "net.core" not in persisted
    assert "tcp_syn_retries" not in persisted  # refused values are not persisted

    assert steps["verify"]["code"] == 4
    rollback = steps["rollback"]
    assert rollback["code"] == 0, rollback["doc"]
    restored = {r["id"] for r in rollback["doc"]["data"]["restored"]}
    assert {"sysctl:net.ipv4.tcp_rmem", "file:/etc/sysctl.d/99-ncctl.conf"} <= restored
    assert steps["verify_after"]["code"] == 1
    assert out["values"]["end"] == out["values"]["start"]
    assert out["persisted_end"] is None
    assert list((shared / "sysctl.d").iterdir()) == []

    assert host_values() == guard_host  # the host never saw any of it


def test_a_read_only_proc_sys_mount_is_host_only(tmp_path: Path) -> None:
    """/proc/sys mounted read-only, as container runtimes do: the probe reads the mount
    flags and calls the TCP settings host-only without trying to write them."""
    prefix = ["unshare", "-m"]
    why = refusal(prefix)
    if why:
        pytest.skip(why)
    root = fakeroot.build(tmp_path / "root")
    config = tmp_path / "c.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    proc_sys = root / "proc/sys"
    script = (
        f"mount --bind {proc_sys} {proc_sys} && mount -o remount,bind,ro {proc_sys} && "
        'exec "$0" -m tests.tuning.cli_child "$@"'
    )
    argv = ["--config", str(config), "tune", "plan", "--root", str(root), "--profile", "dev"]
    proc = subprocess.run(
        [*prefix, "sh", "-c", script, sys.executable, *argv, "--json"],
        cwd=REPO,
        env={**os.environ, "NCCTL_CACHE_DIR": "off"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {row["id"]: row for row in json.loads(proc.stdout)["data"]["settings"]}
    rmem = rows["sysctl:net.ipv4.tcp_rmem"]
    assert rmem["verdict"] == "host-only"
    assert rmem["access"] == "read-only mount"
    assert "docker run --sysctl" in rmem["reason"]
