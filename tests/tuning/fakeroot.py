"""A fake root tree for host-level settings this machine cannot (or must not) change.

Four online CPUs with cpufreq, two NUMA nodes, 2 MiB and 1 GiB huge page pools, THP
selection files, IRQs (IRQ 0 read-only, as the kernel shows an interrupt that cannot move),
the host's network namespace, a Debian boot loader (``update-grub``, never run: tests inject
a recording command runner), and an ``/etc`` without ``tmpfiles.d`` or ``grub.d``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from ncctl.tuning.host import CommandResult

BOOT_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"
CMDLINE = "BOOT_IMAGE=/vmlinuz-6.1.0 root=/dev/sda1 ro quiet -- nohz_full=1-3 isolcpus=1-3"
"""The tokens after ``--`` belong to init: they must never count as kernel parameters."""

FILES: dict[str, str] = {
    "proc/sys/kernel/random/boot_id": BOOT_ID,
    "proc/cmdline": CMDLINE,
    "proc/self/uid_map": "         0          0 4294967295",
    "proc/sys/net/ipv4/tcp_rmem": "4096\t131072\t6291456",
    "proc/sys/net/ipv4/tcp_wmem": "4096\t16384\t4194304",
    "proc/sys/net/ipv4/tcp_slow_start_after_idle": "1",
    "proc/sys/net/ipv4/tcp_timestamps": "1",
    "proc/sys/net/core/rmem_max": "212992",
    "proc/sys/net/core/wmem_max": "212992",
    "proc/sys/net/core/busy_poll": "0",
    "proc/sys/net/core/busy_read": "0",
    "proc/sys/vm/swappiness": "60",
    "proc/sys/vm/stat_interval": "1",
    "proc/sys/kernel/numa_balancing": "1",
    "proc/sys/kernel/watchdog_cpumask": "0-3",
    "proc/irq/default_smp_affinity": "f",
    "sys/devices/system/cpu/online": "0-3",
    "sys/devices/system/cpu/isolated": "",
    "sys/devices/system/cpu/nohz_full": "(null)",
    "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages": "0",
    "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages": "0",
    "sys/kernel/mm/transparent_hugepage/enabled": "always [madvise] never",
    "sys/kernel/mm/transparent_hugepage/defrag": "always defer defer+madvise [madvise] never",
    "sys/kernel/mm/ksm/run": "1",
    "sys/bus/workqueue/devices/writeback/cpumask": "f",
    "sys/devices/virtual/workqueue/cpumask": "f",
    "etc/default/grub": 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet"',
    "etc/sysctl.d/10-site.conf": "# the site's own settings\nnet.ipv4.ip_forward = 0",
}
IRQS = (0, 1, 24, 25)
READ_ONLY_IRQ = 0
NODES = (0, 1)
CPUS = (0, 1, 2, 3)


def build(root: Path, *, boot_loader: bool = True) -> Path:
    """Create the fake tree under ``root`` and return ``root``."""
    for rel, text in FILES.items():
        _write(root / rel, text)
    for cpu in CPUS:
        base = root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq"
        _write(base / "scaling_governor", "powersave")
        _write(base / "scaling_available_governors", "performance powersave")
    for node in NODES:
        for pool in ("hugepages-2048kB", "hugepages-1048576kB"):
            _write(root / f"sys/devices/system/node/node{node}/hugepages/{pool}/nr_hugepages", "0")
    for irq in IRQS:
        path = root / f"proc/irq/{irq}/smp_affinity_list"
        _write(path, "0-3")
        if irq == READ_ONLY_IRQ:
            path.chmod(0o444)
    ns = root / "proc/self/ns"
    ns.mkdir(parents=True, exist_ok=True)
    (ns / "net").symlink_to("net:[4026531840]")
    init_ns = root / "proc/1/ns"
    init_ns.mkdir(parents=True, exist_ok=True)
    (init_ns / "net").symlink_to("net:[4026531840]")
    (root / "proc/1/comm").write_text("systemd\n")
    if boot_loader:
        render_grub_cfg(root)
        grub = root / "usr/sbin/update-grub"
        _write(grub, "#!/bin/sh\n# never run by the tests: they inject a command runner\nexit 99")
        grub.chmod(0o755)
    return root


def build_topology(
    root: Path,
    *,
    smt: bool = True,
    nic_node: int | None = None,
    managed: Sequence[int] = (),
) -> Path:
    """A 16-CPU, 2-socket host (one NUMA node per socket) on top of :func:`build`: with SMT
    the siblings are ``n, n+8`` (node 0: CPUs 0-3,8-11; node 1: 4-7,12-15), without SMT every
    CPU is a core (node 0: 0-7; node 1: 8-15). ``nic_node``: NIC ``ens1f0`` on that node
    (and a virtual ``lo`` without a device); ``managed``: IRQs the kernel manages (debugfs
    lists ``IRQD_AFFINITY_MANAGED``; spread one per CPU)."""
    build(root)
    cpus = range(16)
    _write(root / "sys/devices/system/cpu/online", "0-15")
    for rel in ("proc/sys/kernel/watchdog_cpumask",):
        _write(root / rel, "0-15")
    for rel in (
        "proc/irq/default_smp_affinity",
        "sys/bus/workqueue/devices/writeback/cpumask",
        "sys/devices/virtual/workqueue/cpumask",
    ):
        _write(root / rel, "ffff")
    for cpu in cpus:
        base = root / f"sys/devices/system/cpu/cpu{cpu}"
        _write(base / "cpufreq/scaling_governor", "powersave")
        _write(base / "cpufreq/scaling_available_governors", "performance powersave")
        siblings = f"{cpu % 8},{cpu % 8 + 8}" if smt else str(cpu)
        _write(base / "topology/thread_siblings_list", siblings)
    layout = ("0-3,8-11", "4-7,12-15") if smt else ("0-7", "8-15")
    for node, cpulist in enumerate(layout):
        _write(root / f"sys/devices/system/node/node{node}/cpulist", cpulist)
    for irq in IRQS:
        path = root / f"proc/irq/{irq}/smp_affinity_list"
        path.chmod(0o644)
        _write(path, "0-15")
        if irq == READ_ONLY_IRQ:
            path.chmod(0o444)
    for index, irq in enumerate(managed):
        path = root / f"proc/irq/{irq}/smp_affinity_list"
        _write(path, str(index % 16))  # 0644 like every smp_affinity_list: a write is EIO
        _write(
            root / f"sys/kernel/debug/irq/irqs/{irq}",
            f"handler:  handle_edge_irq\ndevice:   0000:01:00.0\nnode:     0\n"
            f"affinity: {index % 16}\nflags:    0x0\n             IRQD_AFFINITY_MANAGED",
        )
    (root / "sys/class/net/lo").mkdir(parents=True, exist_ok=True)
    if nic_node is not None:
        _write(root / "sys/class/net/ens1f0/device/numa_node", str(nic_node))
    return root


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def reboot(root: Path, boot_id: str, extra_tokens: Sequence[str]) -> None:
    """Simulate a reboot: a new boot id, and a command line with ``extra_tokens`` added
    before ``--`` (what the regenerated boot entry passes)."""
    (root / "proc/sys/kernel/random/boot_id").write_text(boot_id + "\n")
    head, sep, tail = CMDLINE.partition(" -- ")
    words = [head, *extra_tokens]
    (root / "proc/cmdline").write_text(" ".join(words) + (f" -- {tail}" if sep else "") + "\n")


Snapshot = dict[str, tuple[str, bytes | str]]

_BRACKETED = re.compile(rb"\[([^\]]+)\]")
SELECTION_FILES = frozenset(
    {
        "sys/kernel/mm/transparent_hugepage/enabled",
        "sys/kernel/mm/transparent_hugepage/defrag",
    }
)
"""The kernel lists every choice of these and brackets the selected one; a file written with
the chosen word cannot answer like that, so they are compared by the selected word."""


def tree(root: Path) -> Snapshot:
    """Every file, directory and symlink under ``root``: its kind and content (mode too)."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", oct(path.stat().st_mode & 0o7777))
            else:
                data = path.read_bytes()
                if rel in SELECTION_FILES:
                    found = _BRACKETED.search(data)
                    data = found.group(1) if found else data.strip()
                out[rel] = (f"file {oct(path.stat().st_mode & 0o7777)}", data)
    return out


class RecordingRunner:
    """The one stand-in of the tests: records argv instead of running update-grub or grubby
    (neither can run here), and keeps the kernel arguments grubby would hold."""

    def __init__(
        self,
        grubby_args: str = "ro root=/dev/sda1 quiet",
        fail: bool = False,
        root: Path | None = None,
    ) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.args = grubby_args.split()
        self.fail = fail
        self.services: dict[str, dict[str, bool]] = {
            "irqbalance.service": {"enabled": True, "active": True}
        }
        self.root = root
        """With a root, update-grub regenerates its ``/boot/grub/grub.cfg`` (see
        :func:`render_grub_cfg`) as the real one does."""

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        call = tuple(argv)
        self.calls.append(call)
        if self.fail:
            return CommandResult(call, 1, "", "error: /boot/grub/grub.cfg.new: No space left")
        if call[0] == "update-grub":
            if self.root is not None:
                render_grub_cfg(self.root)
            return CommandResult(call, 0, "", "Generating grub configuration file ...\ndone\n")
        if call[0] == "grubby":
            return self._grubby(call)
        if call[0] == "systemctl":
            return self._systemctl(call)
        return CommandResult(call, 127, "", f"{call[0]}: command not found")

    def _systemctl(self, call: tuple[str, ...]) -> CommandResult:
        """irqbalance.service as systemctl keeps it (enabled and active until told)."""
        verb, unit = call[1], call[-1]
        state = self.services.setdefault(unit, {"enabled": False, "active": False})
        if verb == "is-enabled":
            word = "enabled" if state["enabled"] else "disabled"
            return CommandResult(call, 0 if state["enabled"] else 1, word + "\n", "")
        if verb == "is-active":
            word = "active" if state["active"] else "inactive"
            return CommandResult(call, 0 if state["active"] else 3, word + "\n", "")
        changes = {
            "disable": {"enabled": False, **({"active": False} if "--now" in call else {})},
            "enable": {"enabled": True},
            "start": {"active": True},
            "restart": {"active": True},
        }
        state.update(changes[verb])
        return CommandResult(call, 0, "", "")

    def _grubby(self, call: tuple[str, ...]) -> CommandResult:
        if "--info=DEFAULT" in call:
            text = (
                'index=0\nkernel="/boot/vmlinuz-6.1.0"\n'
                f'args="{" ".join(self.args)}"\nroot="/dev/sda1"\n'
            )
            return CommandResult(call, 0, text, "")
        for arg in call[1:]:
            if arg.startswith("--args="):
                for token in arg.removeprefix("--args=").split():
                    name = token.partition("=")[0]
                    self.args = [a for a in self.args if a.partition("=")[0] != name]
                    self.args.append(token)
            elif arg.startswith("--remove-args="):
                names = {t.partition("=")[0] for t in arg.removeprefix("--remove-args=").split()}
                self.args = [a for a in self.args if a.partition("=")[0] not in names]
        return CommandResult(call, 0, "", "")


GRUB_CFG = "boot/grub/grub.cfg"


def render_grub_cfg(root: Path) -> None:
    """What update-grub makes of ``/etc/default/grub`` and its ``grub.d/*.cfg`` drop-ins
    (sourced in order, ``${GRUB_CMDLINE_LINUX}`` expanded): one menu entry, written to a new
    file renamed over ``grub.cfg``."""
    cmdline = ""
    sources = [root / "etc/default/grub", *sorted((root / "etc/default/grub.d").glob("*.cfg"))]
    for source in sources:
        for line in source.read_text().splitlines():
            if line.startswith("GRUB_CMDLINE_LINUX="):
                value = line.partition("=")[2].strip().strip('"')
                cmdline = value.replace("${GRUB_CMDLINE_LINUX}", cmdline).strip()
    target = root / GRUB_CFG
    target.parent.mkdir(parents=True, exist_ok=True)
    new = target.with_name("grub.cfg.new")
    new.write_text(
        "### generated by the fake update-grub\nmenuentry 'Debian GNU/Linux' {\n"
        f"\tlinux /vmlinuz-6.1.0 root=/dev/sda1 ro {cmdline}\n}}\n"
    )
    new.chmod(0o644)
    new.rename(target)


def install_grubby(root: Path) -> None:
    """Make the fake tree a Fedora-style system: grubby present (grubby wins over update-grub)."""
    path = root / "usr/sbin/grubby"
    _write(path, "#!/bin/sh\nexit 99")
    path.chmod(0o755)
