"""Applying a plan: live values, then the persistence files, then the boot loader, each
original value in the rollback journal (fsynced) before the first write; disruptive live
changes are refused inside trading hours unless forced with a reason.

``NCCTL_CRASH_AT=before-write:ID`` or ``after-write:ID`` makes the process SIGKILL itself at
that point: the crash tests use it to stop an apply between two writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ncctl.crashpoints import crashpoint
from ncctl.errors import NcctlError, PermissionDeniedError, RefusedError
from ncctl.tuning import service
from ncctl.tuning.errors import setting_ids
from ncctl.tuning.files import write_file
from ncctl.tuning.host import Access
from ncctl.tuning.kinds import base, boot
from ncctl.tuning.kinds.base import Finding, KernelSetting, Verdict
from ncctl.tuning.kinds.boot import BootParam
from ncctl.tuning.kthreads import move_kthreads
from ncctl.tuning.pin_files import IRQBALANCE_FILE
from ncctl.tuning.pinning import pin_options
from ncctl.tuning.plan import Compliance, Plan
from ncctl.tuning.profiles import Profile
from ncctl.tuning.rollback_journal import RollbackJournal, check_persistent, locked
from ncctl.tuning.site import Site, check_force
from ncctl.tuning.window import ALWAYS_OUTSIDE, TradingWindow


@dataclass
class ApplyResult:
    before: Plan
    after: Plan | None
    dry_run: bool = False
    changed: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    kernel_managed: list[dict[str, Any]] = field(default_factory=list)
    """Writes the kernel refused because it places the value itself (managed IRQs)."""
    files: list[dict[str, Any]] = field(default_factory=list)
    boot: dict[str, Any] | None = None
    overrides: str | None = None
    kthreads: dict[str, Any] = field(default_factory=dict)
    """Kernel threads moved to the housekeeping CPUs (:mod:`ncctl.tuning.kthreads`)."""

    @property
    def final(self) -> Plan:
        return self.after or self.before

    def compliance(self) -> Compliance:
        return Compliance.COMPLIANT if self.dry_run else self.final.compliance()

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "changed": self.changed,
            "failed": self.failed,
            "kernel_managed": self.kernel_managed,
            "files": self.files,
            "boot": self.boot,
            "overrides": self.overrides,
            "kthreads": self.kthreads,
            "plan" if self.dry_run else "verify": self.final.as_dict(),
        }


def apply_profile(
    site: Site,
    profile: Profile,
    *,
    window: TradingWindow = ALWAYS_OUTSIDE,
    force: bool = False,
    reason: str | None = None,
    dry_run: bool = False,
) -> ApplyResult:
    """Make the host match ``profile`` (see the module docstring); ``dry_run``: the plan."""
    check_force(force, reason)
    if dry_run:
        return ApplyResult(site.plan(profile, window), None, dry_run=True)
    if os.geteuid() != 0:
        refuse_root_only(site.plan(profile, window))
    check_persistent(site.state_dir, site.mounts)
    with locked(site.directory):
        plan = site.plan(profile, window)
        overrides = guard(site, plan, window, force)
        result = ApplyResult(plan, None, overrides=overrides)
        journal = RollbackJournal(site.directory)
        site.open_entries(journal)
        try:
            apply_plan(site, plan, journal, result)
            result.kthreads = move_kthreads(
                site.host, profile, plan.cpus, plan.context.contained
            ).as_dict()
        except NcctlError as err:
            site.log(
                "tune host",
                "failed",
                reason,
                {"args": {"profile": profile.name}, "error": err.message},
            )
            raise
        log_outcome(site, "tune host", profile, reason, result)
    result.after = site.plan(profile, window)
    return result


def log_outcome(
    site: Site, command: str, profile: Profile, reason: str | None, result: ApplyResult
) -> None:
    """Journal what ``command`` (``tune host``, ``tune reapply``) did: ok, failed or noop."""
    moved = result.kthreads.get("moved", [])
    outcome = "ok" if not result.failed else "failed"
    if not (result.changed or result.files or result.boot or result.failed or moved):
        outcome = "noop"
    site.log(
        command,
        outcome,
        reason,
        {
            "args": {"profile": profile.name},
            "changed": [c["id"] for c in result.changed],
            "failed": result.failed,
            "files": [f["path"] for f in result.files],
            "boot": result.boot,
            "kthreads_moved": [m["pid"] for m in moved],
            "overrides": result.overrides,
        },
    )


def guard(site: Site, plan: Plan, window: TradingWindow, force: bool) -> str | None:
    """Refuse disruptive live changes inside trading hours (journaled) unless forced;
    the schedule state overridden, or None."""
    disruptive = plan.disruptive()
    if not (disruptive and window.inside):
        return None
    if force:
        return window.reason
    what = "; ".join(str(i.finding.disruptive) for i in disruptive[:3])
    if len(disruptive) > 3:
        what += f"; and {len(disruptive) - 3} more"
    nxt = window.next_outside
    when = nxt.isoformat(timespec="seconds") if nxt else None
    site.log(
        "tune host",
        "refused",
        None,
        {
            "args": {"profile": plan.profile.name},
            "schedule": window.reason,
            "next_allowed": when,
        },
    )
    raise RefusedError(
        f"tune host refused: {what}, inside trading hours ({window.reason}); "
        f"nothing was changed; next outside trading hours at {when}",
        hint="run it outside trading hours, or override with --force --reason TEXT",
        code="schedule.refused",
    )


def apply_plan(site: Site, plan: Plan, journal: RollbackJournal, result: ApplyResult) -> None:
    """Live values, then the persistence files, then the boot loader."""
    host = site.host
    boot_id = host.boot_id()
    for item in plan.items:
        setting, finding = item.setting, item.finding
        if isinstance(setting, KernelSetting) and finding.verdict is Verdict.APPLY:
            write_live(site, setting, finding, result, journal=journal, boot_id=boot_id)
    if pin_options(plan.profile).irqbalance == "stop" and not plan.context.contained:
        stopped = service.stop(host, journal, boot_id)
        if stopped is not None:
            (result.changed if stopped[0] else result.failed).append(stopped[1])
    # persist what took: a value the kernel refused must not reach sysctl.d
    written = plan
    if result.changed or result.failed:
        written = site.plan(plan.profile, plan.window)
    for change in written.file_drift():
        try:
            write_file(host, journal, change.path, change.desired, boot_id)
        except (NcctlError, OSError) as exc:
            message = exc.message if isinstance(exc, NcctlError) else str(exc)
            result.failed.append({"id": f"file:{change.path}", "error": message})
            continue
        result.files.append({"path": change.path, "action": change.action})
        crashpoint(f"after-write:file:{change.path}")
    if any(f["path"] == IRQBALANCE_FILE for f in result.files):
        restarted = service.restart_if_active(host)
        if restarted is not None:
            (result.changed if restarted[0] else result.failed).append(restarted[1])
    items = [i for i in plan.items if isinstance(i.setting, BootParam)]
    if any(i.drifting for i in items):
        params = [i.setting for i in items if isinstance(i.setting, BootParam)]
        result.boot = boot.stage(
            params,
            plan.profile.name,
            host=host,
            journal=journal,
            record=site.record,
            boot_id=boot_id,
            now=site.now,
            files=result.files,
            failed=result.failed,
        )


def write_live(
    site: Site,
    setting: KernelSetting,
    finding: Finding,
    result: ApplyResult,
    *,
    journal: RollbackJournal | None,
    boot_id: str | None,
) -> None:
    """Write one live kernel value (its original in ``journal`` first; None: journaled by an
    earlier apply) and file the outcome in ``result``: changed, kernel-managed or failed."""
    host = site.host
    if journal is None:
        ok, entry = base.put(
            setting, finding.current, host=host, record=site.record, boot_id=boot_id
        )
    else:
        ok, entry = base.write(
            setting,
            finding.raw,
            finding.current,
            host=host,
            journal=journal,
            record=site.record,
            boot_id=boot_id,
        )
    managed = not ok and setting.kernel_owned(host, entry.get("errno"))
    if managed:
        entry["kernel_managed"] = managed
    (result.changed if ok else result.kernel_managed if managed else result.failed).append(entry)


def refuse_root_only(plan: Plan) -> None:
    """Refuse, before anything is written, changes only root can make (a refused write
    would be remembered for the rest of the boot as the kernel's refusal)."""
    items = [i for i in plan.items if i.drifting and i.finding.access == Access.ROOT_ONLY]
    if items:
        raise PermissionDeniedError(
            f"`ncctl tune host` changes files only root may write: {setting_ids(items)}",
            hint="run it as root (ncctl-tune.service does); tune plan and verify work as any user",
            code="tune.needs_root",
        )
