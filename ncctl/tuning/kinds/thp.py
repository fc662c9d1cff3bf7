"""Transparent huge pages: a selection file (``always [madvise] never``); persisted in
tmpfiles.d."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ncctl.tuning.cpus import CpuPlan
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting
from ncctl.tuning.profiles import Profile
from ncctl.tuning.values import ValueFormat, choices


@dataclass(frozen=True, kw_only=True)
class Thp(KernelSetting):
    kind: ClassVar[str] = "thp"

    def check_value(self, raw: str) -> str | None:
        offered = choices(raw)
        if "[" in raw and self.desired not in offered:
            return f"{self.path} offers {', '.join(offered)}, not {self.desired}"
        return None


SETTING = Thp
"""The class of this kind's settings."""


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    """One setting per key of ``[thp]``."""
    return [
        Thp(
            id=f"thp:{key}",
            label=f"transparent_hugepage/{key}",
            path=f"/sys/kernel/mm/transparent_hugepage/{key}",
            desired=str(value),
            fmt=ValueFormat.SELECTION,
        )
        for key, value in profile.table("thp").items()
    ]
