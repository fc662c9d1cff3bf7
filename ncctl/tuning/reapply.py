"""Re-applying at boot what a reboot loses: the live values of an applied profile that no
file of the system restores (the affinity of each IRQ, NIC queues included: their numbers
change between boots), and those that tmpfiles.d restores when the hardware is there in
time (governors, THP, workqueue masks, the default IRQ mask), with the pinning of
:mod:`ncctl.tuning.pinning` (kernel threads moved to the housekeeping CPUs).

``ncctl tune reapply`` runs from ``ncctl-tune-boot.service`` before the components start.
It writes no rollback journal entries: the originals a rollback restores are those recorded
by ``tune host`` before its first write. It does nothing when no profile is applied (the
rollback journal has no open entry), so that it never tunes a host ncctl has not tuned.
Values the profile sets through sysctl.d, and the boot parameters, are left to the system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ncctl.tuning.apply import ApplyResult, guard, log_outcome, refuse_root_only, write_live
from ncctl.tuning.kinds.base import KernelSetting, Persistence, Verdict
from ncctl.tuning.kthreads import move_kthreads
from ncctl.tuning.profiles import Profile
from ncctl.tuning.rollback_journal import RollbackJournal, locked
from ncctl.tuning.site import Site, check_force
from ncctl.tuning.window import ALWAYS_OUTSIDE, TradingWindow

RUNTIME = (Persistence.NONE, Persistence.TMPFILES)
"""The values a re-apply writes: lost at reboot, or restored by tmpfiles.d only when the
hardware's files exist by then."""


@dataclass
class ReapplyResult(ApplyResult):
    """What ``tune reapply`` wrote; ``active`` False: no profile applied, nothing done."""

    active: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "active": self.active}


def reapply_profile(
    site: Site,
    profile: Profile,
    *,
    window: TradingWindow = ALWAYS_OUTSIDE,
    force: bool = False,
    reason: str | None = None,
) -> ReapplyResult:
    """Write the runtime values of ``profile`` that differ (see the module docstring)."""
    check_force(force, reason)
    if os.geteuid() != 0:
        refuse_root_only(site.plan(profile, window))
    with locked(site.directory):
        plan = site.plan(profile, window)
        journal = RollbackJournal(site.directory)
        if not site.open_entries(journal):
            result = ReapplyResult(plan, None, active=False)
            site.log("tune reapply", "noop", reason, {"args": {"profile": profile.name}})
            return result
        runtime = [
            i
            for i in plan.items
            if isinstance(i.setting, KernelSetting)
            and i.setting.persistence() in RUNTIME
            and i.finding.verdict is Verdict.APPLY
        ]
        overrides = guard(site, plan, window, force) if runtime else None
        result = ReapplyResult(plan, None, overrides=overrides)
        boot_id = site.host.boot_id()
        for item in runtime:
            assert isinstance(item.setting, KernelSetting)
            write_live(site, item.setting, item.finding, result, journal=None, boot_id=boot_id)
        result.kthreads = move_kthreads(
            site.host, profile, plan.cpus, plan.context.contained
        ).as_dict()
        log_outcome(site, "tune reapply", profile, reason, result)
    result.after = site.plan(profile, window)
    return result
