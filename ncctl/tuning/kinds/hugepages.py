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


def _pool(kb: int, desired: int, node: int | None = None) -> HugePages:
    """The setting of one pool of ``kb`` pages: the host total, or NUMA node ``node``'s."""
    pool = f"hugepages-{kb}kB"
    where = "kernel/mm" if node is None else f"devices/system/node/node{node}"
    on = "" if node is None else f"node{node}"
    return HugePages(
        id=f"hugepages:{kb}kB" + (f":{on}" if on else ""),
        label=pool + (f" on {on}" if on else ""),
        path=f"/sys/{where}/hugepages/{pool}/nr_hugepages",
        desired=str(desired),
        fmt=ValueFormat.INT,
    )


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    """One setting per page size of ``[hugepages]``, host total or one per NUMA node."""
    found: list[KernelSetting] = []
    for size, value in profile.table("hugepages").items():
        kb = huge_size_kb(size)
        if isinstance(value, int):
            found.append(_pool(kb, value))
            continue
        found.extend(
            _pool(kb, value[key], node_number(key)) for key in sorted(value, key=node_number)
        )
    return found
