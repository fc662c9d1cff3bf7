"""Plan, apply, verify and roll back a tuning profile on one host.

* :meth:`Tuner.plan` reads every setting (nothing is written) and gives each a verdict
  (:mod:`ncctl.tuning.plan`, one module per kind of setting in :mod:`ncctl.tuning.kinds`);
* :meth:`Tuner.apply` writes what the plan says, recording each original value in the
  rollback journal (fsynced) before the first write, persists the profile in sysctl.d and
  tmpfiles.d, stages boot parameters, then verifies; disruptive live changes are refused
  inside trading hours unless forced with a reason (:mod:`ncctl.tuning.apply`);
* :meth:`Tuner.verify` is the plan read as compliance: 0 compliant, 1 drift, 3 reboot
  pending, 4 something cannot be reached from here (:mod:`ncctl.tuning.errors`);
* :meth:`Tuner.reapply` writes again, at boot, the runtime values of an applied profile (IRQ
  affinity, governors, THP, workqueue masks, kernel threads), journaling nothing
  (:mod:`ncctl.tuning.reapply`);
* :meth:`Tuner.rollback` restores, newest first, every setting still at a value ncctl wrote,
  and skips (with a warning) those someone else changed since, unless forced
  (:mod:`ncctl.tuning.rollback`).

``NCCTL_CRASH_AT=before-write:ID`` or ``after-write:ID`` (or ``rollback:ID``) makes the
process SIGKILL itself at that point: the crash tests use it to stop an apply between two
writes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Unpack

from ncctl.journal import Journal, journal_path
from ncctl.tuning.apply import ApplyResult, apply_profile
from ncctl.tuning.host import Host
from ncctl.tuning.plan import Plan
from ncctl.tuning.profiles import Profile
from ncctl.tuning.reapply import ReapplyResult, reapply_profile
from ncctl.tuning.rollback import RollbackResult, roll_back
from ncctl.tuning.site import RunOptions, Site
from ncctl.tuning.window import ALWAYS_OUTSIDE, TradingWindow


class Tuner:
    """Tuning of the host behind ``host``, with its state under ``state_dir/tuning``."""

    def __init__(
        self,
        host: Host,
        state_dir: Path,
        *,
        journal: Journal | None = None,
        mounts: Path | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        self.site = Site(host, state_dir, journal or Journal(journal_path(state_dir)), mounts, now)

    def plan(self, profile: Profile, window: TradingWindow = ALWAYS_OUTSIDE) -> Plan:
        """Read every setting of ``profile`` and classify it; write nothing."""
        return self.site.plan(profile, window)

    def verify(self, profile: Profile, window: TradingWindow = ALWAYS_OUTSIDE) -> Plan:
        """The plan, read as compliance (:meth:`Plan.compliance`)."""
        return self.site.plan(profile, window)

    def apply(self, profile: Profile, **options: Unpack[RunOptions]) -> ApplyResult:
        """Make the host match ``profile`` (see the module docstring)."""
        return apply_profile(self.site, profile, **options)

    def reapply(
        self,
        profile: Profile,
        *,
        window: TradingWindow = ALWAYS_OUTSIDE,
        force: bool = False,
        reason: str | None = None,
    ) -> ReapplyResult:
        """Write again, without journaling, the runtime values of an applied ``profile``
        that a reboot lost (:mod:`ncctl.tuning.reapply`)."""
        return reapply_profile(self.site, profile, window=window, force=force, reason=reason)

    def rollback(self, **options: Unpack[RunOptions]) -> RollbackResult:
        """Undo, newest first, what ``apply`` recorded (see the module docstring)."""
        return roll_back(self.site, **options)
