"""Whole cores: an isolated CPU whose SMT sibling is a housekeeping CPU shares L1/L2 and
execution units with the kernel's housekeeping work. Only an explicit ``isolated`` list can
do that (the whole-core division never does, :mod:`ncctl.tuning.cpus`); each such CPU is a
finding of the plan and of verify, with the reason, which ``tune host`` cannot fix: the
profile must change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ncctl.tuning.cpus import CpuPlan
from ncctl.tuning.cpuset import format_cpulist
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting, Persistence
from ncctl.tuning.profiles import Profile


@dataclass(frozen=True, kw_only=True)
class CoreSharing(KernelSetting):
    kind: ClassVar[str] = "cores"
    persist_via: ClassVar[Persistence] = Persistence.NONE


SETTING = CoreSharing
"""The class of this kind's settings."""


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    """One finding per isolated CPU that shares a core with a housekeeping CPU."""
    found: list[KernelSetting] = []
    for cpu, siblings in sorted(cpus.shared.items()):
        hk = format_cpulist(siblings)
        found.append(
            CoreSharing(
                id=f"cores:cpu{cpu}",
                label=f"isolated CPU {cpu}",
                path=f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list",
                desired="a core without housekeeping CPUs",
                impossible=(
                    f"isolated CPU {cpu} shares its core with housekeeping CPU {hk} (SMT "
                    "siblings share L1/L2 and execution units): make the whole core "
                    f'housekeeping or isolated in the profile\'s [cpus] (isolated = "auto" '
                    "does)"
                ),
            )
        )
    return found
