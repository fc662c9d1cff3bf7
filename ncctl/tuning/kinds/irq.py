"""One IRQ's CPU list, or the default mask for new IRQs. IRQ numbers change between boots: only
the default mask is persisted (tmpfiles.d); the ``irqaffinity=`` boot parameter keeps the rest.

A kernel-managed IRQ (the queues of NVMe and multi-queue NICs, spread over the CPUs by the
kernel) cannot be moved: its ``smp_affinity`` answers a write with EIO. It is known by debugfs
(``/sys/kernel/debug/irq/irqs/N`` lists ``IRQD_AFFINITY_MANAGED``), by an EIO earlier in this
boot, or by a file nobody may write; it is reported "kernel-managed", never as drift:
``isolcpus=managed_irq`` is what keeps it off the isolated CPUs.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import ClassVar

from ncctl.tuning.cpus import CpuPlan, resolve_cpus
from ncctl.tuning.cpuset import format_cpulist
from ncctl.tuning.host import Access, Host
from ncctl.tuning.kinds.base import KernelSetting, Persistence, Verdict
from ncctl.tuning.profiles import Profile
from ncctl.tuning.values import ValueFormat

MAX_IRQS = 4096
DEBUGFS_IRQS = "/sys/kernel/debug/irq/irqs"
MANAGED_FLAG = "IRQD_AFFINITY_MANAGED"


@dataclass(frozen=True, kw_only=True)
class IrqAffinity(KernelSetting):
    kind: ClassVar[str] = "irq"
    irq: str = ""

    def read_only(self) -> tuple[Verdict, str]:
        return (
            Verdict.UNSUPPORTED,
            f"the kernel does not allow moving IRQ {self.irq} (a managed or per-CPU interrupt)",
        )

    def kernel_owned(self, host: Host, refused_errno: int | None) -> str | None:
        if not self.irq.isdigit():
            return None
        if refused_errno == errno.EIO:
            evidence = "the kernel answered EIO to a write earlier in this boot"
        elif MANAGED_FLAG in (host.read(f"{DEBUGFS_IRQS}/{self.irq}") or ""):
            evidence = f"{DEBUGFS_IRQS}/{self.irq} lists {MANAGED_FLAG}"
        elif host.access(self.path) is Access.READ_ONLY_MODE:
            evidence = f"{self.path} is read-only for everyone"
        else:
            return None
        return f"kernel-managed IRQ {self.irq} ({evidence}): " + managed_placement(host)

    def disruption(self, current: str) -> str | None:
        if self.irq == "default":
            return None  # only IRQs set up later take the default
        return f"moves IRQ {self.irq} from CPUs {current or '-'} to {self.desired}"

    @classmethod
    def restoring_disrupts(cls, path: str) -> bool:
        return not path.endswith("default_smp_affinity")

    def persistence(self) -> Persistence:
        # IRQ numbers change between boots: the irqaffinity= boot parameter persists the
        # housekeeping CPUs instead; the default mask for new IRQs is kept by tmpfiles.d.
        return Persistence.TMPFILES if self.irq == "default" else Persistence.NONE


def managed_placement(host: Host) -> str:
    """What keeps kernel-managed IRQs off the isolated CPUs on this boot."""
    for token in host.cmdline_tokens():
        name, _, value = token.partition("=")
        if name == "isolcpus" and "managed_irq" in value.split(","):
            return f"the kernel places it; {token} keeps it off the isolated CPUs"
    return (
        "the kernel places it; without isolcpus=managed_irq on the kernel command line it "
        "may run on isolated CPUs"
    )


def irq_numbers(host: Host) -> list[int]:
    """The IRQs present under the root's /proc/irq, ascending (at most MAX_IRQS)."""
    directory = host.path("/proc/irq")
    try:
        names = [p.name for p in directory.iterdir() if p.name.isdigit()]
    except OSError:
        return []
    return sorted(int(n) for n in names)[:MAX_IRQS]


SETTING = IrqAffinity
"""The class of this kind's settings."""


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    """One setting per IRQ of ``[irq]`` (``all``: every IRQ present), default mask first."""
    table = profile.table("irq")
    if not table:
        return []
    wanted: dict[str, str] = {}
    if "all" in table:
        for number in irq_numbers(host):
            wanted[str(number)] = table["all"]
    for key, spec in table.items():
        if key != "all":
            wanted[key] = spec
    found: list[KernelSetting] = []
    order = sorted(wanted, key=lambda k: (k != "default", int(k) if k.isdigit() else -1))
    for key in order:
        try:
            chosen = resolve_cpus(wanted[key], cpus)
        except ValueError as exc:
            raise ValueError(f"irq.{key}: {exc}") from None
        why = None if chosen else f"CPU set {wanted[key]!r} is empty on this host"
        if key == "default":
            path, fmt = "/proc/irq/default_smp_affinity", ValueFormat.CPUMASK
        else:
            path, fmt = f"/proc/irq/{key}/smp_affinity_list", ValueFormat.CPULIST
        found.append(
            IrqAffinity(
                id=f"irq:{key}",
                label="default IRQ affinity" if key == "default" else f"IRQ {key}",
                path=path,
                desired=format_cpulist(chosen),
                fmt=fmt,
                irq=key,
                impossible=why,
            )
        )
    return found
