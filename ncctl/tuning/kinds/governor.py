"""The cpufreq governor of one CPU; persisted in tmpfiles.d."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ncctl.tuning.cpus import CpuPlan, resolve_cpus
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting
from ncctl.tuning.profiles import Profile


@dataclass(frozen=True, kw_only=True)
class Governor(KernelSetting):
    kind: ClassVar[str] = "governor"
    available: tuple[str, ...] | None = None

    def missing(self) -> str:
        return (
            f"{self.path} does not exist: no cpufreq driver for this CPU (a virtual machine, "
            "or the firmware controls the frequency)"
        )

    def check_value(self, raw: str) -> str | None:
        if self.available is not None and self.desired not in self.available:
            return f"this cpufreq driver offers {', '.join(self.available)}, not {self.desired}"
        return None


SETTING = Governor
"""The class of this kind's settings."""


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    """One setting per CPU named in ``[governor]`` (the last spec naming a CPU wins)."""
    chosen: dict[int, str] = {}
    for spec, governor in profile.table("governor").items():
        try:
            targets = resolve_cpus(spec, cpus)
        except ValueError as exc:
            raise ValueError(f"governor.{spec}: {exc}") from None
        for cpu in targets:
            chosen[cpu] = str(governor)
    found: list[KernelSetting] = []
    for cpu in sorted(chosen):
        base = f"/sys/devices/system/cpu/cpu{cpu}/cpufreq"
        offered = host.read(f"{base}/scaling_available_governors")
        found.append(
            Governor(
                id=f"governor:cpu{cpu}",
                label=f"cpu{cpu} governor",
                path=f"{base}/scaling_governor",
                desired=chosen[cpu],
                available=tuple(offered.split()) if offered else None,
            )
        )
    return found
