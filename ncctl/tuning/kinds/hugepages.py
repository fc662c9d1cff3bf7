"""Huge page pools: one page size, host total or one NUMA node; persisted in tmpfiles.d."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ncctl.tuning.cpus import CpuPlan
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting
from ncctl.tuning.profiles import Profile, huge_size_kb, node_number
from ncctl.tuning.values import ValueFormat


@dataclass(frozen=True, kw_only=True)
class HugePages(KernelSetting):
    kind: ClassVar[str] = "hugepages"
    short_hint: ClassVar[str] = (
        " (not enough contiguous memory: a hugepages= boot parameter is reliable)"
    )

    def missing(self) -> str:
        return f"{self.path} does not exist: no such huge page size or NUMA node here"

    @classmethod
    def restoring_disrupts(cls, path: str) -> bool:
        return True

    def disruption(self, current: str) -> str | None:
        try:
            now, want = int(current), int(self.desired)
        except ValueError:
            return None
        if want < now:
            return f"shrinks the {self.label} pool from {now} to {want} pages"
        if want > now:
            return (
                f"grows the {self.label} pool from {now} to {want} pages: the kernel compacts "
                "memory to find them, stalling allocations"
            )
        return None


SETTING = HugePages
"""The class of this kind's settings."""


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    """One setting per page size of ``[hugepages]``, host total or one per NUMA node."""
    found: list[KernelSetting] = []
    for size, value in profile.table("hugepages").items():
        kb = huge_size_kb(size)
        pool = f"hugepages-{kb}kB"
        if isinstance(value, int):
            path = f"/sys/kernel/mm/hugepages/{pool}/nr_hugepages"
            found.append(
                HugePages(
                    id=f"hugepages:{kb}kB",
                    label=f"hugepages-{kb}kB",
                    path=path,
                    desired=str(value),
                    fmt=ValueFormat.INT,
                )
            )
            continue
        for node_key in sorted(value, key=node_number):
            node = node_number(node_key)
            path = f"/sys/devices/system/node/node{node}/hugepages/{pool}/nr_hugepages"
            found.append(
                HugePages(
                    id=f"hugepages:{kb}kB:node{node}",
                    label=f"hugepages-{kb}kB on node{node}",
                    path=path,
                    desired=str(value[node_key]),
                    fmt=ValueFormat.INT,
                )
            )
    return found
