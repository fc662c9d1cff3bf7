"""Rolling back: newest first, every setting and file still at what ncctl wrote goes back to
its original; those someone else changed since are skipped (with a warning) unless forced.
Each kind of journal entry is judged and restored by the module that wrote it: ``value`` by
:mod:`ncctl.tuning.kinds.base`, ``file`` and ``dir`` by :mod:`ncctl.tuning.files`,
``grubby`` by :mod:`ncctl.tuning.kinds.boot`, ``service`` by :mod:`ncctl.tuning.service`.

``NCCTL_CRASH_AT=rollback:ID`` makes the process SIGKILL itself after restoring ``ID``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.crashpoints import crashpoint
from ncctl.errors import NcctlError, RefusedError
from ncctl.tuning import files, service
from ncctl.tuning.host import Host
from ncctl.tuning.kinds import base, boot, boot_state
from ncctl.tuning.kinds.boot_loader import DROPIN, BootBackend, Grubby, detect_backend
from ncctl.tuning.persist import SYSCTL_FILE, TMPFILES_FILE
from ncctl.tuning.pin_files import IRQBALANCE_FILE, PIN_FILES
from ncctl.tuning.plan import SETTING_CLASSES, Compliance
from ncctl.tuning.rollback_journal import RollbackEntry, RollbackJournal, RollbackStep, locked
from ncctl.tuning.site import Site, check_force
from ncctl.tuning.window import ALWAYS_OUTSIDE, TradingWindow


@dataclass
class RollbackResult:
    dry_run: bool
    steps: list[RollbackStep] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    reboot_required: bool = False
    archived: str | None = None
    warnings: list[str] = field(default_factory=list)
    overrides: str | None = None
    stray: list[str] = field(default_factory=list)
    """Temporary files a killed run left beside ncctl's files (removed unless a dry run)."""
    restarted: list[str] = field(default_factory=list)
    """Services restarted to read a restored file (irqbalance after its banned-CPU list)."""

    def of(self, action: str) -> list[RollbackStep]:
        return [s for s in self.steps if s.action == action]

    def exit_code(self) -> int:
        if self.dry_run:
            return 0
        if self.failed or self.of("skip"):
            return int(Compliance.DRIFT)
        if self.reboot_required:
            return int(Compliance.REBOOT_PENDING)
        return 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "restored": [s.as_dict() for s in self.of("restore")],
            "unchanged": [s.as_dict() for s in self.of("unchanged")],
            "skipped": [s.as_dict() for s in self.of("skip")],
            "gone": [s.as_dict() for s in self.of("gone")],
            "failed": self.failed,
            "reboot_required": self.reboot_required,
            "archived": self.archived,
            "overrides": self.overrides,
            "stray_removed": self.stray,
            "restarted": self.restarted,
        }


def _disrupts(entry: RollbackEntry) -> bool:
    """Whether restoring ``entry`` disturbs trading (a huge page pool, an IRQ's CPUs)."""
    setting = SETTING_CLASSES.get(entry.setting_kind)
    return setting is not None and setting.restoring_disrupts(entry.path)


def assess(entry: RollbackEntry, host: Host, force: bool, grubby: Grubby | None) -> RollbackStep:
    """What to do with one open journal entry, by the module of its kind."""
    if entry.kind == "value":
        return base.assess(entry, host, force)
    if entry.kind in ("file", "dir"):
        return files.assess(entry, host, force)
    if entry.kind == boot_state.KIND:
        return boot_state.assess(entry, host)
    if entry.kind == service.KIND:
        return service.assess(entry, host)
    return boot.assess(entry, grubby, force)


def restore(entry: RollbackEntry, host: Host) -> None:
    """Put one entry back as it was, by the module of its kind."""
    if entry.kind == "value":
        base.restore(entry, host)
    elif entry.kind in ("file", "dir"):
        files.restore(entry, host)
    elif entry.kind == boot_state.KIND:
        boot_state.restore(entry, host)
    elif entry.kind == service.KIND:
        service.restore(entry, host)
    else:
        boot.restore(entry, host)


def roll_back(
    site: Site,
    *,
    window: TradingWindow = ALWAYS_OUTSIDE,
    force: bool = False,
    reason: str | None = None,
    dry_run: bool = False,
) -> RollbackResult:
    """Undo, newest first, what ``apply`` recorded (see the module docstring)."""
    check_force(force, reason)
    site.check_root()
    with locked(site.directory):
        journal = RollbackJournal(site.directory)
        entries = site.open_entries(journal)
        backend = detect_backend(site.host)
        grubby = backend if isinstance(backend, Grubby) else None
        steps = [assess(e, site.host, force, grubby) for e in reversed(entries)]
        result = RollbackResult(dry_run, steps, warnings=list(journal.warnings))
        moves = [s for s in steps if s.action == "restore" and _disrupts(s.entry)]
        if moves and window.inside and not dry_run:
            if not force:
                site.log("tune rollback", "refused", None, {"schedule": window.reason})
                raise RefusedError(
                    f"tune rollback refused: it would change {len(moves)} huge page pools "
                    f"or IRQs inside trading hours ({window.reason}); nothing was changed",
                    hint="run it outside trading hours, or override with --force --reason",
                    code="schedule.refused",
                )
            result.overrides = window.reason
        for step in steps:
            if step.action == "skip":
                result.warnings.append(f"{step.entry.id}: skipped: {step.reason}")
        strays = [*stray_files(site.host, entries), *files.temps_beside(site.record.path)]
        result.stray = [str(p) for p in strays]
        if dry_run:
            return result
        for path in strays:
            path.unlink(missing_ok=True)
        perform(site, steps, journal, result, backend)
        outcome_name = "ok" if not (result.failed or result.of("skip")) else "partial"
        if not steps:
            outcome_name = "noop"
        site.log(
            "tune rollback",
            outcome_name,
            reason,
            {
                "restored": [s.entry.id for s in result.of("restore")],
                "skipped": [s.entry.id for s in result.of("skip")],
                "failed": result.failed,
                "overrides": result.overrides,
                "stray_removed": result.stray,
            },
        )
        archived = journal.archive_if_done()
        result.archived = str(archived) if archived else None
    return result


def stray_files(host: Host, entries: list[RollbackEntry]) -> list[Path]:
    """Temporary files a killed apply or rollback left beside any file ncctl writes."""
    paths = {SYSCTL_FILE, TMPFILES_FILE, DROPIN, *PIN_FILES} | {
        e.path for e in entries if e.kind == "file"
    }
    return [p for path in sorted(paths) for p in files.stray_temps(host, path)]


def perform(
    site: Site,
    steps: list[RollbackStep],
    journal: RollbackJournal,
    result: RollbackResult,
    backend: BootBackend | None,
) -> None:
    """Carry out assessed rollback steps, closing each journal entry done with."""
    boot_touched = dropin_restored = False
    config_entry = any(s.entry.kind == boot_state.KIND for s in steps)
    for step in steps:
        if step.entry.kind == boot_state.KIND:
            # judged again now that the newer boot entries are back as they were
            fresh = boot_state.assess(step.entry, site.host)
            step.action, step.current, step.reason = fresh.action, fresh.current, fresh.reason
            if step.action == "unchanged" and dropin_restored:
                # grub.cfg may live where ncctl does not look: the drop-in changed
                step.action, step.reason = "restore", "the drop-in was restored in this run"
        if step.action in ("unchanged", "gone"):
            journal.close(step.entry.id, step.action)
            continue
        if step.action != "restore":
            continue
        if step.entry.kind == "dir" and any(site.host.path(step.entry.path).iterdir()):
            # files ncctl wrote are gone by now (newer entries come first)
            step.action, step.reason = "skip", "not empty: it holds files of others"
            result.warnings.append(f"{step.entry.id}: skipped: {step.reason}")
            continue
        try:
            restore(step.entry, site.host)
        except (OSError, NcctlError) as exc:
            message = exc.message if isinstance(exc, NcctlError) else str(exc)
            step.action = "failed"
            result.failed.append({"id": step.entry.id, "error": message})
            continue
        journal.close(step.entry.id, "restored")
        crashpoint(f"rollback:{step.entry.id}")
        dropin_restored = dropin_restored or step.entry.path == DROPIN
        if step.entry.kind in ("grubby", boot_state.KIND) or step.entry.path == DROPIN:
            boot_touched = True
    if any(s.action == "restore" and s.entry.path == IRQBALANCE_FILE for s in steps):
        restarted = service.restart_if_active(site.host)  # it reads the list only at start
        if restarted is not None:
            if restarted[0]:
                result.restarted.append(service.IRQBALANCE)
            else:
                result.failed.append(restarted[1])
    # a staging record left by a rollback killed after its last restore is cleared too
    stale = not journal.open_entries() and site.record.path.exists() and bool(site.record.boot())
    if boot_touched or stale:
        crashpoint("rollback:unstage")
        # the bootcfg entry regenerated already; journals without one regenerate here
        regenerate = backend if boot_touched and not config_entry else None
        result.reboot_required = boot.unstage(site.host, site.record, regenerate, result.failed)
