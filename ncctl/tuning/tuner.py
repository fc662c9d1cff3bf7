"""Plan, apply, verify and roll back a tuning profile on one host.

* :meth:`Tuner.plan` reads every setting (nothing is written) and gives each a verdict;
* :meth:`Tuner.apply` writes what the plan says, recording each original value in the
  rollback journal (fsynced) before the first write, persists the profile in sysctl.d and
  tmpfiles.d, stages boot parameters, then verifies; disruptive live changes are refused
  inside trading hours unless forced with a reason;
* :meth:`Tuner.verify` is the plan read as compliance: 0 compliant, 1 drift, 3 reboot
  pending, 4 something cannot be reached from here;
* :meth:`Tuner.rollback` restores, newest first, every setting still at a value ncctl wrote,
  and skips (with a warning) those someone else changed since, unless forced.

``NCCTL_CRASH_AT=before-write:ID`` or ``after-write:ID`` (or ``rollback:ID``) makes the
process SIGKILL itself at that point: the crash tests use it to stop an apply between two
writes.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from ncctl.errors import (
    NcctlError,
    PermissionDeniedError,
    RefusedError,
    UnavailableError,
    UsageError,
)
from ncctl.journal import Journal, journal_path
from ncctl.tuning.boot import (
    DROPIN,
    BootBackend,
    BootParam,
    Grubby,
    GrubDropIn,
    detect_backend,
    parse_cmdline,
    probe_boot,
)
from ncctl.tuning.host import Access, Host, NamespaceContext
from ncctl.tuning.persist import ABSENT, FileChange, planned_files, write_file
from ncctl.tuning.profiles import Profile
from ncctl.tuning.settings import (
    CpuPlan,
    Finding,
    KernelSetting,
    Verdict,
    expand,
    probe,
)
from ncctl.tuning.state import (
    RollbackEntry,
    RollbackJournal,
    StateFile,
    check_persistent,
    locked,
    sha256_hex,
    tuning_dir,
)
from ncctl.tuning.values import ValueFormat, canonical, restore_form
from ncctl.tuning.window import ALWAYS_OUTSIDE, TradingWindow

CRASH_ENV = "NCCTL_CRASH_AT"
DISRUPTIVE_KINDS = frozenset({"hugepages", "irq"})

Setting = KernelSetting | BootParam


def crash_point(name: str) -> None:
    """SIGKILL this process when ``$NCCTL_CRASH_AT`` names this point (crash tests)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class Compliance(IntEnum):
    """The exit code of ``tune verify``: what a host needs to match its profile."""

    COMPLIANT = 0
    DRIFT = 1
    REBOOT_PENDING = 3
    UNREACHABLE = 4

    @property
    def label(self) -> str:
        return {
            0: "compliant",
            1: "drift",
            3: "reboot-pending",
            4: "unsupported",
        }[int(self)]


@dataclass
class PlanItem:
    setting: Setting
    finding: Finding

    @property
    def drifting(self) -> bool:
        """Something ``tune host`` would change now."""
        verdict = self.finding.verdict
        return verdict is Verdict.APPLY or (verdict is Verdict.REBOOT and not self.finding.staged)

    def as_dict(self) -> dict[str, Any]:
        f = self.finding
        return {
            **self.setting.as_dict(),
            "current": f.current,
            "verdict": str(f.verdict),
            "reason": f.reason,
            "access": f.access or None,
            "disruptive": f.disruptive,
            "staged": f.staged,
        }


@dataclass
class Plan:
    """Every setting of a profile on one host, current against desired, with verdicts."""

    profile: Profile
    host: Host
    context: NamespaceContext
    cpus: CpuPlan
    items: list[PlanItem]
    files: list[FileChange]
    boot_backend: str | None
    boot_id: str | None
    window: TradingWindow
    warnings: list[str] = field(default_factory=list)

    def compliance(self) -> Compliance:
        """1 when ``tune host`` would change something, else 3 when a reboot would finish
        the job, else 4 when something cannot be reached from here, else 0."""
        if any(i.drifting for i in self.items) or self.file_drift():
            return Compliance.DRIFT
        if any(i.finding.verdict is Verdict.REBOOT for i in self.items):
            return Compliance.REBOOT_PENDING
        if any(i.finding.verdict in (Verdict.HOST_ONLY, Verdict.UNSUPPORTED) for i in self.items):
            return Compliance.UNREACHABLE
        return Compliance.COMPLIANT

    def file_drift(self) -> list[FileChange]:
        return [f for f in self.files if f.action != "unchanged"]

    def summary(self) -> dict[str, int]:
        counts = Counter(str(i.finding.verdict) for i in self.items)
        return {str(v): counts.get(str(v), 0) for v in Verdict}

    def disruptive(self) -> list[PlanItem]:
        return [
            i for i in self.items if i.finding.verdict is Verdict.APPLY and i.finding.disruptive
        ]

    def as_dict(self) -> dict[str, Any]:
        status = self.compliance()
        return {
            "profile": {
                "name": self.profile.name,
                "source": str(self.profile.source),
                "chain": list(self.profile.chain),
                "description": self.profile.description,
            },
            "root": str(self.host.root),
            "context": self.context.as_dict(),
            "boot_id": self.boot_id,
            "boot_backend": self.boot_backend,
            "cpus": self.cpus.as_dict(),
            "trading": self.window.as_dict(),
            "settings": [i.as_dict() for i in self.items],
            "files": [f.as_dict() for f in self.files],
            "summary": self.summary(),
            "status": status.label,
            "exit_code": int(status),
        }


@dataclass
class ApplyResult:
    before: Plan
    after: Plan | None
    dry_run: bool = False
    changed: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    boot: dict[str, Any] | None = None
    overrides: str | None = None

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
            "files": self.files,
            "boot": self.boot,
            "overrides": self.overrides,
            "plan" if self.dry_run else "verify": self.final.as_dict(),
        }


@dataclass
class RollbackStep:
    entry: RollbackEntry
    action: str
    """``restore``, ``unchanged`` (already the original), ``skip`` (changed by someone
    else), ``gone`` (the file no longer exists)."""
    current: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry.id,
            "path": self.entry.path,
            "action": self.action,
            "current": self.current,
            "original": self.entry.original if self.entry.kind != "file" else None,
            "reason": self.reason,
        }


@dataclass
class RollbackResult:
    dry_run: bool
    steps: list[RollbackStep] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    reboot_required: bool = False
    archived: str | None = None
    warnings: list[str] = field(default_factory=list)
    overrides: str | None = None

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
        }


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
        self.host = host
        self.state_dir = state_dir
        self.directory = tuning_dir(state_dir)
        self.journal = journal or Journal(journal_path(state_dir))
        self.mounts = mounts
        self.now = now
        self.state = StateFile(self.directory)

    # -- planning ---------------------------------------------------------------------

    def _check_root(self) -> None:
        if not self.host.root.is_dir():
            raise UnavailableError(
                f"tuning root {self.host.root} does not exist",
                hint="create it, or name an existing directory with --root or tuning.root",
            )

    def plan(self, profile: Profile, window: TradingWindow = ALWAYS_OUTSIDE) -> Plan:
        """Read every setting of ``profile`` and classify it; write nothing."""
        self._check_root()
        host = self.host
        expansion = expand(profile, host)
        ctx = host.context()
        boot_id = host.boot_id()
        refusals = self.state.refusals(boot_id) if self.state.path.exists() else {}
        items = [PlanItem(s, probe(s, host, ctx, refusals.get(s.id))) for s in expansion.settings]
        backend = detect_backend(host) if expansion.boot else None
        if expansion.boot:
            record = self._boot_record(backend)
            staged = backend.staged(record) if backend is not None and not ctx.contained else None
            cmdline = parse_cmdline(host.cmdline_tokens())
            items.extend(
                PlanItem(
                    p,
                    probe_boot(
                        p, host, ctx, cmdline=cmdline, backend=backend, staged=staged, record=record
                    ),
                )
                for p in expansion.boot
            )
        pairs = [(i.setting, i.finding) for i in items if isinstance(i.setting, KernelSetting)]
        files = planned_files(host, profile.name, pairs, ctx)
        warnings = list(expansion.warnings)
        if any(i.setting.kind == "irq" for i in items) and host.processes_named("irqbalance"):
            warnings.append(
                "irqbalance is running: it will move IRQs off the housekeeping CPUs; stop it "
                "or set IRQBALANCE_BANNED_CPULIST to the isolated CPUs"
            )
        if ctx.own_netns is None and not ctx.userns:
            warnings.append(
                "cannot compare this network namespace with PID 1's: host-wide settings are "
                "judged by their file permissions alone"
            )
        return Plan(
            profile=profile,
            host=host,
            context=ctx,
            cpus=expansion.cpus,
            items=items,
            files=files,
            boot_backend=backend.name if backend else None,
            boot_id=boot_id,
            window=window,
            warnings=warnings,
        )

    def verify(self, profile: Profile, window: TradingWindow = ALWAYS_OUTSIDE) -> Plan:
        return self.plan(profile, window)

    def _boot_record(self, backend: BootBackend | None) -> dict[str, Any]:
        if backend is None or not self.state.path.exists():
            return {}
        record = self.state.boot()
        return record if record.get("backend") == backend.name else {}

    # -- applying ---------------------------------------------------------------------

    @staticmethod
    def check_force(force: bool, reason: str | None) -> None:
        if force and not (reason and reason.strip()):
            raise UsageError("--force needs --reason TEXT", hint="say why, for the journal")

    def _record(
        self, command: str, outcome: str, reason: str | None, details: dict[str, Any]
    ) -> None:
        self.journal.append(
            command,
            {"root": str(self.host.root), **details.pop("args", {})},
            outcome,
            reason=reason,
            details=details,
        )

    def _same_root(self, journal: RollbackJournal) -> list[RollbackEntry]:
        entries = journal.open_entries()
        other = {e.root for e in entries} - {str(self.host.root)}
        if other:
            raise UsageError(
                f"the rollback journal holds changes made under root {sorted(other)[0]}",
                hint=f"run `ncctl tune rollback --root {sorted(other)[0]}` first",
            )
        return entries

    def apply(
        self,
        profile: Profile,
        *,
        window: TradingWindow = ALWAYS_OUTSIDE,
        force: bool = False,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> ApplyResult:
        """Make the host match ``profile`` (see the module docstring)."""
        self.check_force(force, reason)
        if dry_run:
            return ApplyResult(self.plan(profile, window), None, dry_run=True)
        if os.geteuid() != 0:
            _refuse_root_only(self.plan(profile, window))
        check_persistent(self.state_dir, self.mounts)
        with locked(self.directory):
            plan = self.plan(profile, window)
            overrides = self._guard(plan, window, force)
            result = ApplyResult(plan, None, overrides=overrides)
            journal = RollbackJournal(self.directory)
            self._same_root(journal)
            try:
                self._apply_plan(plan, journal, result)
            except NcctlError as err:
                self._record(
                    "tune host",
                    "failed",
                    reason,
                    {"args": {"profile": profile.name}, "error": err.message},
                )
                raise
            outcome = "ok" if not result.failed else "failed"
            if not (result.changed or result.files or result.boot or result.failed):
                outcome = "noop"
            self._record(
                "tune host",
                outcome,
                reason,
                {
                    "args": {"profile": profile.name},
                    "changed": [c["id"] for c in result.changed],
                    "failed": result.failed,
                    "files": [f["path"] for f in result.files],
                    "boot": result.boot,
                    "overrides": overrides,
                },
            )
        result.after = self.plan(profile, window)
        return result

    def _guard(self, plan: Plan, window: TradingWindow, force: bool) -> str | None:
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
        self._record(
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

    def _apply_plan(self, plan: Plan, journal: RollbackJournal, result: ApplyResult) -> None:
        """Live values, then the persistence files, then the boot loader."""
        boot_id = self.host.boot_id()
        for item in plan.items:
            if isinstance(item.setting, KernelSetting) and item.finding.verdict is Verdict.APPLY:
                self._write_setting(item, journal, boot_id, result)
        # persist what took: a value the kernel refused must not reach sysctl.d
        written = self.plan(plan.profile, plan.window) if result.changed or result.failed else plan
        for change in written.file_drift():
            try:
                write_file(self.host, journal, change.path, change.desired, boot_id)
            except (NcctlError, OSError) as exc:
                message = exc.message if isinstance(exc, NcctlError) else str(exc)
                result.failed.append({"id": f"file:{change.path}", "error": message})
                continue
            result.files.append({"path": change.path, "action": change.action})
            crash_point(f"after-write:file:{change.path}")
        result.boot = self._stage_boot(plan, journal, boot_id, result)

    def _write_setting(
        self,
        item: PlanItem,
        journal: RollbackJournal,
        boot_id: str | None,
        result: ApplyResult,
    ) -> None:
        setting = item.setting
        assert isinstance(setting, KernelSetting)
        journal.remember(
            RollbackEntry(
                id=setting.id,
                kind="value",
                setting_kind=setting.kind,
                path=setting.path,
                root=str(self.host.root),
                original=item.finding.raw,
                fmt=str(setting.fmt),
                boot_id=boot_id,
            ),
            intended=setting.desired,
        )
        crash_point(f"before-write:{setting.id}")
        try:
            self.host.write(setting.path, setting.write_text())
        except OSError as exc:
            self.state.note_refusal(setting.id, exc, boot_id)
            result.failed.append(
                {"id": setting.id, "error": f"{setting.path}: {exc.strerror or exc}"}
            )
            return
        crash_point(f"after-write:{setting.id}")
        raw = self.host.read(setting.path)
        got: str | None = None
        if raw is not None:
            try:
                got = setting.canonical(raw)
            except ValueError:
                got = raw.strip()
        entry: dict[str, Any] = {
            "id": setting.id,
            "from": item.finding.current,
            "to": setting.desired,
            "read_back": got,
        }
        if got != setting.desired:
            entry["short"] = f"the kernel took {got} instead of {setting.desired}" + (
                " (not enough contiguous memory: a hugepages= boot parameter is reliable)"
                if setting.kind == "hugepages"
                else ""
            )
        result.changed.append(entry)

    def _stage_boot(
        self,
        plan: Plan,
        journal: RollbackJournal,
        boot_id: str | None,
        result: ApplyResult,
    ) -> dict[str, Any] | None:
        items = [i for i in plan.items if isinstance(i.setting, BootParam)]
        if not any(i.drifting for i in items):
            return None
        backend = detect_backend(self.host)
        params = [i.setting for i in items if isinstance(i.setting, BootParam)]
        params = [p for p in params if p.impossible is None]
        if backend is None or not params:
            return None
        tokens = [p.token() for p in params]
        stamp = self.now.isoformat(timespec="seconds") if self.now else None
        if isinstance(backend, GrubDropIn):
            content = GrubDropIn.render(params, plan.profile.name).encode()
            current = self.host.read(DROPIN)
            if current is None or current.encode() != content:
                write_file(self.host, journal, DROPIN, content, boot_id)
                result.files.append({"path": DROPIN, "action": "update" if current else "create"})
                crash_point(f"after-write:file:{DROPIN}")
            outcome = backend.regenerate()
            self.state.set_boot(
                {
                    "backend": backend.name,
                    "params": tokens,
                    "boot_id": boot_id,
                    "dropin_sha256": sha256_hex(content),
                    "updated": outcome.ok,
                    "staged_at": stamp,
                }
            )
        else:
            staged = backend.staged({})
            needed = [p for p in params if not p.matches(staged.params)] or params
            for p in needed:
                original = _token(p.name, staged.params)
                journal.remember(
                    RollbackEntry(
                        id=f"grubby:{p.name}",
                        kind="grubby",
                        path=p.name,
                        root=str(self.host.root),
                        original=original,
                        boot_id=boot_id,
                    ),
                    intended=p.token(),
                )
            outcome = backend.update([p.token() for p in needed], [])
            if outcome.ok:
                self.state.set_boot(
                    {
                        "backend": backend.name,
                        "params": tokens,
                        "boot_id": boot_id,
                        "staged_at": stamp,
                    }
                )
        if not outcome.ok:
            result.failed.append({"id": "boot", "error": outcome.message})
        return {
            "backend": backend.name,
            "params": tokens,
            "ok": outcome.ok,
            "message": outcome.message,
        }

    # -- rolling back -----------------------------------------------------------------

    def _assess(self, entry: RollbackEntry, force: bool, grubby: Grubby | None) -> RollbackStep:
        if entry.kind == "value":
            raw = self.host.read(entry.path)
            if raw is None:
                return RollbackStep(entry, "gone", None, f"{entry.path} no longer exists")
            fmt = ValueFormat(entry.fmt)
            try:
                now = canonical(fmt, raw)
                was = canonical(fmt, entry.original or "")
            except ValueError:
                now, was = raw.strip(), (entry.original or "").strip()
            if now == was:
                return RollbackStep(entry, "unchanged", now, "already the original value")
            if now in entry.intended:
                return RollbackStep(entry, "restore", now, f"{now} -> {was}")
            return self._foreign(entry, now, was, force)
        if entry.kind == "file":
            try:
                data: bytes | None = self.host.path(entry.path).read_bytes()
            except FileNotFoundError:
                data = None
            original = entry.original_bytes()
            shown = "absent" if data is None else f"sha256 {sha256_hex(data)[:12]}"
            if data == original:
                return RollbackStep(entry, "unchanged", shown, "already the original content")
            mark = ABSENT if data is None else sha256_hex(data)
            if mark in entry.intended:
                what = "remove" if original is None else "put back the original"
                return RollbackStep(entry, "restore", shown, what)
            return self._foreign(entry, shown, "the original content", force)
        if entry.kind == "dir":
            target = self.host.path(entry.path)
            if not target.exists():
                return RollbackStep(entry, "unchanged", "absent", "already absent")
            return RollbackStep(entry, "restore", "present", "remove the directory ncctl made")
        # grubby
        if grubby is None:
            return RollbackStep(entry, "skip", None, "grubby is no longer available")
        now_token = _token(entry.path, grubby.staged({}).params)
        if now_token == entry.original:
            return RollbackStep(entry, "unchanged", now_token, "already the original")
        if now_token in entry.intended:
            return RollbackStep(
                entry, "restore", now_token, f"back to {entry.original or 'absent'}"
            )
        return self._foreign(entry, str(now_token), str(entry.original), force)

    @staticmethod
    def _foreign(entry: RollbackEntry, now: str, was: str, force: bool) -> RollbackStep:
        wrote = ", ".join(entry.intended) if entry.kind != "file" else "its own content"
        if force:
            return RollbackStep(
                entry, "restore", now, f"changed by someone else since (now {now}); forced"
            )
        return RollbackStep(
            entry,
            "skip",
            now,
            f"changed by someone else since ncctl wrote {wrote}: now {now}; "
            f"--force restores {was} anyway",
        )

    def _restore(self, step: RollbackStep) -> None:
        entry = step.entry
        if entry.kind == "value":
            text = restore_form(ValueFormat(entry.fmt), entry.original or "")
            self.host.write(entry.path, text)
        elif entry.kind == "file":
            from ncctl.floor import write_text_atomic

            original = entry.original_bytes()
            target = self.host.path(entry.path)
            if original is None:
                target.unlink(missing_ok=True)
            else:
                write_text_atomic(target, original.decode(), mode=entry.mode or 0o644)
        elif entry.kind == "dir":
            self.host.path(entry.path).rmdir()
        else:
            grubby = Grubby(self.host)
            if entry.original is None:
                outcome = grubby.update([], [entry.path])
            else:
                outcome = grubby.update([entry.original], [])
            if not outcome.ok:
                raise OSError(outcome.message)

    def rollback(
        self,
        *,
        window: TradingWindow = ALWAYS_OUTSIDE,
        force: bool = False,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> RollbackResult:
        """Undo, newest first, what ``apply`` recorded (see the module docstring)."""
        self.check_force(force, reason)
        self._check_root()
        with locked(self.directory):
            journal = RollbackJournal(self.directory)
            entries = self._same_root(journal)
            backend = detect_backend(self.host)
            grubby = backend if isinstance(backend, Grubby) else None
            steps = [self._assess(e, force, grubby) for e in reversed(entries)]
            result = RollbackResult(dry_run, steps, warnings=list(journal.warnings))
            moves = [
                s
                for s in steps
                if s.action == "restore"
                and s.entry.setting_kind in DISRUPTIVE_KINDS
                and not s.entry.path.endswith("default_smp_affinity")
            ]
            if moves and window.inside and not dry_run:
                if not force:
                    self._record("tune rollback", "refused", None, {"schedule": window.reason})
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
            if dry_run:
                return result
            self._perform(steps, journal, result, backend)
            outcome_name = "ok" if not (result.failed or result.of("skip")) else "partial"
            if not steps:
                outcome_name = "noop"
            self._record(
                "tune rollback",
                outcome_name,
                reason,
                {
                    "restored": [s.entry.id for s in result.of("restore")],
                    "skipped": [s.entry.id for s in result.of("skip")],
                    "failed": result.failed,
                    "overrides": result.overrides,
                },
            )
            archived = journal.archive_if_done()
            result.archived = str(archived) if archived else None
        return result

    def _perform(
        self,
        steps: list[RollbackStep],
        journal: RollbackJournal,
        result: RollbackResult,
        backend: BootBackend | None,
    ) -> None:
        """Carry out assessed rollback steps, closing each journal entry done with."""
        boot_touched = False
        for step in steps:
            if step.action in ("unchanged", "gone"):
                journal.close(step.entry.id, step.action)
                continue
            if step.action != "restore":
                continue
            if step.entry.kind == "dir" and any(self.host.path(step.entry.path).iterdir()):
                # files ncctl wrote are gone by now (newer entries come first)
                step.action, step.reason = "skip", "not empty: it holds files of others"
                result.warnings.append(f"{step.entry.id}: skipped: {step.reason}")
                continue
            try:
                self._restore(step)
            except (OSError, NcctlError) as exc:
                message = exc.message if isinstance(exc, NcctlError) else str(exc)
                step.action = "failed"
                result.failed.append({"id": step.entry.id, "error": message})
                continue
            journal.close(step.entry.id, "restored")
            crash_point(f"rollback:{step.entry.id}")
            if step.entry.kind == "grubby" or step.entry.path == DROPIN:
                boot_touched = True
        if boot_touched:
            result.reboot_required = self._boot_params_live()
            if isinstance(backend, GrubDropIn):
                outcome = backend.regenerate()
                if not outcome.ok:
                    result.failed.append({"id": "boot", "error": outcome.message})
            if not result.failed:
                self.state.set_boot(None)

    def _boot_params_live(self) -> bool:
        """Whether the running kernel still has parameters ncctl staged (reboot to drop)."""
        record = self.state.boot() if self.state.path.exists() else {}
        cmdline = parse_cmdline(self.host.cmdline_tokens())
        for token in record.get("params", []):
            name, sep, value = str(token).partition("=")
            if name in cmdline and (cmdline[name] == (value if sep else None)):
                return True
        return False


def _token(name: str, params: dict[str, str | None]) -> str | None:
    """Parameter ``name`` as the token the boot loader holds (None: absent)."""
    if name not in params:
        return None
    value = params[name]
    return name if value is None else f"{name}={value}"


def _refuse_root_only(plan: Plan) -> None:
    """Refuse, before anything is written, changes only root can make (a refused write
    would be remembered for the rest of the boot as the kernel's refusal)."""
    items = [i for i in plan.items if i.drifting and i.finding.access == Access.ROOT_ONLY]
    if items:
        raise PermissionDeniedError(
            f"`ncctl tune host` changes files only root may write: {_ids(items)}",
            hint="run it as root (ncctl-tune.service does); tune plan and verify work as any user",
            code="tune.needs_root",
        )


class TuningDriftError(NcctlError):
    """The host differs from its profile in something ``tune host`` can change (exit 1)."""

    exit_code = int(Compliance.DRIFT)
    default_code = "tune.drift"


class RebootPendingError(NcctlError):
    """Boot parameters are staged and wait for a reboot (exit 3)."""

    exit_code = int(Compliance.REBOOT_PENDING)
    default_code = "tune.reboot_pending"


class UnreachableSettingError(NcctlError):
    """Settings that cannot be changed from here: host-only or unsupported (exit 4)."""

    exit_code = int(Compliance.UNREACHABLE)
    default_code = "tune.unsupported"


def _ids(items: list[PlanItem], limit: int = 5) -> str:
    names = [i.setting.id for i in items[:limit]]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(names) + more


def compliance_error(plan: Plan) -> NcctlError | None:
    """The failure a non-compliant plan is, with the settings that make it so, or None."""
    status = plan.compliance()
    name = plan.profile.name
    if status is Compliance.DRIFT:
        items = [i for i in plan.items if i.drifting]
        files = [f.path for f in plan.file_drift()]
        what = [_ids(items)] if items else []
        if files:
            what.append("persistence " + ", ".join(files))
        return TuningDriftError(
            f"drift from profile {name}: {'; '.join(what)}",
            hint="`ncctl tune plan` shows each change; `ncctl tune host` applies them",
        )
    if status is Compliance.REBOOT_PENDING:
        items = [i for i in plan.items if i.finding.verdict is Verdict.REBOOT]
        return RebootPendingError(
            f"reboot pending: {_ids(items)} staged in the boot loader for profile {name}",
            hint="reboot outside trading hours, then run `ncctl tune verify`",
        )
    if status is Compliance.UNREACHABLE:
        items = [
            i for i in plan.items if i.finding.verdict in (Verdict.HOST_ONLY, Verdict.UNSUPPORTED)
        ]
        return UnreachableSettingError(
            f"cannot be changed from here: {_ids(items)} (profile {name})",
            hint="each setting's reason says why; host-only ones need the host operator",
        )
    return None


def rollback_error(result: RollbackResult) -> NcctlError | None:
    """The failure of a rollback that left something behind, or None."""
    code = result.exit_code()
    if code == int(Compliance.DRIFT):
        left = [s.entry.id for s in result.of("skip")] + [f["id"] for f in result.failed]
        return TuningDriftError(
            f"rollback incomplete: {', '.join(left[:5])}"
            + (f" and {len(left) - 5} more" if len(left) > 5 else "")
            + " not restored",
            hint="skipped settings were changed by someone else since: check them, then "
            "`ncctl tune rollback --force --reason TEXT` restores them anyway",
            code="tune.rollback_incomplete",
        )
    if code == int(Compliance.REBOOT_PENDING):
        return RebootPendingError(
            "rollback done; the running kernel keeps its boot parameters until a reboot",
            hint="reboot outside trading hours, then run `ncctl tune verify`",
        )
    return None
