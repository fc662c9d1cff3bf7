"""Any ``/sys`` file (workqueue masks, KSM); persisted in tmpfiles.d."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ncctl.tuning.cpus import CpuPlan
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting, value_spec
from ncctl.tuning.profiles import Profile


@dataclass(frozen=True, kw_only=True)
class SysfsValue(KernelSetting):
    kind: ClassVar[str] = "sysfs"


SETTING = SysfsValue
"""The class of this kind's settings."""


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    """One setting per key of the profile's ``[sysfs]`` table (any file under ``/sys``)."""
    found: list[KernelSetting] = []
    for key, value in profile.table("sysfs").items():
        rel = key.removeprefix("/sys/").strip("/")
        try:
            desired, fmt, why = value_spec(value, cpus)
        except ValueError as exc:
            raise ValueError(f"sysfs.{key}: {exc}") from None
        path = f"/sys/{rel}"
        found.append(
            SysfsValue(
                id=f"sysfs:{path}", label=path, path=path, desired=desired, fmt=fmt, impossible=why
            )
        )
    return found
