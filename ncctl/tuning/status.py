"""Read-only tuning status for metrics: how the host compares with its profile."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

if TYPE_CHECKING:
    from ncctl.tuning.section import TuningConfig

ComplianceLabel = Literal["compliant", "drift", "reboot-pending", "unsupported"]


@dataclass(frozen=True)
class TuningStatus:
    """How the host compares with its tuning profile (the labels of ``ncctl tune verify``)."""

    profile: str
    state: ComplianceLabel

    @property
    def compliant(self) -> bool:
        return self.state == "compliant"


def tuning_status(section: TuningConfig, state_dir: Path, now: dt.datetime) -> TuningStatus | None:
    """How the host under ``tuning.root`` compares with ``tuning.profile`` (the read-only
    check of ``ncctl tune verify``); None when that root does not exist (a dev setup)."""
    if not section.root.is_dir():
        return None
    from ncctl.tuning.host import Host
    from ncctl.tuning.profiles import load_profile
    from ncctl.tuning.tuner import Tuner

    plan = Tuner(Host(section.root), state_dir, now=now).verify(load_profile(section.profile))
    return TuningStatus(section.profile, cast("ComplianceLabel", plan.compliance().label))
