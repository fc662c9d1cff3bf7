"""What every kind of tuning setting shares, and the kernel-file kinds' common life cycle.

A kind (:mod:`ncctl.tuning.kinds.sysctl`, ``sysfs``, ``hugepages``, ``thp``, ``governor``,
``irq``, ``boot``) turns its table of a profile into settings (``expand``); a kernel-file
setting (:class:`KernelSetting`, one subclass per kind) is then probed (:func:`probe`: its
current value and a :class:`Verdict`), written (:func:`write`, after its original value is
in the rollback journal) and rolled back (:func:`assess`, :func:`restore`) here, each kind
changing only what differs through the methods of its class. Boot parameters have their own
life cycle (:mod:`ncctl.tuning.kinds.boot`).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from ncctl.crashpoints import crashpoint
from ncctl.tuning.cpus import CpuPlan, resolve_cpus, substitute
from ncctl.tuning.cpuset import format_cpulist
from ncctl.tuning.host import Access, Host, NamespaceContext
from ncctl.tuning.record import TuningRecord
from ncctl.tuning.rollback_journal import (
    RollbackEntry,
    RollbackJournal,
    RollbackStep,
    foreign_step,
)
from ncctl.tuning.values import ValueFormat, canonical, restore_form, writable_form


class Scope(StrEnum):
    NETNS = "netns"
    HOST = "host"
    BOOT = "boot"


class Verdict(StrEnum):
    OK = "ok"
    APPLY = "apply"
    REBOOT = "reboot"
    HOST_ONLY = "host-only"
    UNSUPPORTED = "unsupported"
    KERNEL_MANAGED = "kernel-managed"
    """The kernel places it and refuses to move it (a managed IRQ): neither drift nor a
    failure; ``isolcpus=managed_irq`` keeps it off the isolated CPUs."""


class Persistence(StrEnum):
    SYSCTL_D = "sysctl.d"
    TMPFILES = "tmpfiles.d"
    BOOT_LOADER = "boot loader"
    NONE = "none"


@dataclass(frozen=True)
class Finding:
    """What the probe found for one setting."""

    verdict: Verdict
    reason: str
    current: str | None = None
    raw: str | None = None
    access: str = ""
    disruptive: str | None = None
    staged: bool = False


class Described(Protocol):
    """What a plan shows of any setting (a kernel file or a boot parameter)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def scope(self) -> Scope: ...
    @property
    def path(self) -> str: ...
    @property
    def desired(self) -> str: ...
    def persistence(self) -> Persistence: ...


def described(setting: Described, fmt: str) -> dict[str, Any]:
    """A setting as a plan's JSON shows it, its value in format ``fmt``."""
    return {
        "id": setting.id,
        "kind": setting.kind,
        "label": setting.label,
        "scope": str(setting.scope),
        "path": setting.path,
        "desired": setting.desired,
        "format": fmt,
        "persistence": str(setting.persistence()),
    }


@dataclass(frozen=True, kw_only=True)
class KernelSetting:
    """One kernel file and the value a profile wants in it."""

    id: str
    label: str
    path: str
    desired: str
    fmt: ValueFormat = ValueFormat.TEXT
    scope: Scope = Scope.HOST
    impossible: str | None = None
    """Why the profile's value cannot be formed on this host (no CPU left to isolate)."""
    warning: str | None = None

    kind: ClassVar[str] = "sysfs"
    persist_via: ClassVar[Persistence] = Persistence.TMPFILES
    short_hint: ClassVar[str] = ""
    """Added to the report of a write the kernel took only in part."""

    def persistence(self) -> Persistence:
        """How the value survives a reboot without ncctl running."""
        return self.persist_via

    def write_text(self) -> str:
        return writable_form(self.fmt, self.desired)

    def canonical(self, raw: str) -> str:
        return canonical(self.fmt, raw)

    def check_value(self, raw: str) -> str | None:
        """Why the desired value cannot be taken here (kind-specific), or None."""
        return None

    def disruption(self, current: str) -> str | None:
        """Why changing the live value from ``current`` disturbs trading, or None."""
        return None

    @classmethod
    def restoring_disrupts(cls, path: str) -> bool:
        """Whether a rollback putting back the original of ``path`` disturbs trading (it is
        then refused inside trading hours unless forced)."""
        return False

    def missing(self) -> str:
        return f"{self.path} does not exist on this kernel"

    def host_instruction(self) -> str:
        return f"the host operator must write {self.write_text()!r} to {self.path}"

    def read_only(self) -> tuple[Verdict, str]:
        """A file nobody may write (mode 0444): the kernel's own answer, not this user's."""
        return Verdict.UNSUPPORTED, f"{self.path} is read-only for everyone on this kernel"

    def kernel_owned(self, host: Host, refused_errno: int | None) -> str | None:
        """Why the kernel itself places this value and refuses to change it (``refused_errno``:
        what it answered to a write earlier in this boot), or None."""
        return None

    def persist_line(self) -> str:
        value = self.write_text().replace("%", "%%")
        return f"w {self.path} - - - - {value}"

    def as_dict(self) -> dict[str, Any]:
        return described(self, str(self.fmt))


def value_spec(value: Any, cpus: CpuPlan) -> tuple[str, ValueFormat, str | None]:
    """A setting's value (scalar or typed table) as (desired canonical, format, impossible)."""
    if isinstance(value, dict):
        fmt = ValueFormat(value.get("format", "text" if "value" in value else "cpulist"))
        if "cpus" in value:
            chosen = resolve_cpus(str(value["cpus"]), cpus)
            why = None if chosen else f"CPU set {value['cpus']!r} is empty on this host"
            return format_cpulist(chosen), fmt, why
        text, _, why = substitute(str(value["value"]), cpus)
        return canonical(fmt, text), fmt, why
    text, used, why = substitute(str(value), cpus)
    fmt = ValueFormat.CPULIST if used else ValueFormat.TEXT
    return canonical(fmt, text), fmt, why


REFUSED_ERRNOS = {
    errno.EPERM: Verdict.HOST_ONLY,
    errno.EACCES: Verdict.HOST_ONLY,
    errno.EROFS: Verdict.HOST_ONLY,
    errno.EIO: Verdict.UNSUPPORTED,
    errno.EINVAL: Verdict.UNSUPPORTED,
    errno.EBUSY: Verdict.UNSUPPORTED,
}


def probe(
    setting: KernelSetting,
    host: Host,
    ctx: NamespaceContext,
    refusal: dict[str, Any] | None = None,
) -> Finding:
    """Read and classify one setting without writing anything.

    ``refusal`` is what the kernel answered to a write of this setting earlier in this boot
    (EIO for an IRQ that cannot move, EPERM in a container): a write refused once is not
    planned again until the next boot.
    """
    if setting.impossible:
        return Finding(Verdict.UNSUPPORTED, setting.impossible)
    raw = host.read(setting.path)
    container = setting.scope is Scope.HOST and ctx.contained
    if raw is None:
        if container:
            # the container check comes before the file checks: whether the file is there
            # or writable in a container says nothing about the host
            return host_only_here(setting, ctx, None, None, str(host.access(setting.path)))
        if host.exists(setting.path):
            return Finding(Verdict.HOST_ONLY, f"{setting.path} exists but cannot be read from here")
        if setting.scope is not Scope.HOST and ctx.contained:
            return Finding(
                Verdict.HOST_ONLY,
                f"not visible in this network namespace: {setting.label} is host-wide here; "
                + setting.host_instruction(),
                access=str(Access.MISSING),
            )
        return Finding(Verdict.UNSUPPORTED, setting.missing(), access=str(Access.MISSING))
    try:
        current = setting.canonical(raw)
    except ValueError as exc:
        return Finding(Verdict.UNSUPPORTED, f"cannot read the current value: {exc}", raw=raw)
    access = host.access(setting.path)
    if current == setting.desired:
        return Finding(Verdict.OK, "as desired", current, raw, str(access))
    if container:
        return host_only_here(setting, ctx, current, raw, str(access))
    owned = setting.kernel_owned(host, int(refusal.get("errno", 0)) if refusal else None)
    if owned:
        return Finding(Verdict.KERNEL_MANAGED, owned, current, raw, str(access))
    problem = setting.check_value(raw)
    if problem:
        return Finding(Verdict.UNSUPPORTED, problem, current, raw, str(access))
    if refusal is not None:
        verdict = REFUSED_ERRNOS.get(int(refusal.get("errno", 0)), Verdict.UNSUPPORTED)
        return Finding(
            verdict,
            f"the kernel refused the write earlier in this boot ({refusal.get('error')})",
            current,
            raw,
            str(access),
        )
    if access is Access.READ_ONLY_MODE:
        verdict, why = setting.read_only()
        return Finding(verdict, why, current, raw, str(access))
    if access not in (Access.WRITABLE, Access.ROOT_ONLY):
        return Finding(
            Verdict.HOST_ONLY,
            f"{access} ({host.mode_of(setting.path)}): {setting.host_instruction()}",
            current,
            raw,
            str(access),
        )
    return Finding(
        Verdict.APPLY,
        f"{current or '(empty)'} -> {setting.desired}",
        current,
        raw,
        str(access),
        setting.disruption(current),
    )


def host_only_here(
    setting: KernelSetting,
    ctx: NamespaceContext,
    current: str | None,
    raw: str | None,
    access: str,
) -> Finding:
    """A host-wide setting seen from a container: the host's operator's to change, whatever
    the file's mode or presence here."""
    seen = "" if access == Access.WRITABLE else f" (here: {access})"
    return Finding(
        Verdict.HOST_ONLY,
        f"host-wide, and ncctl runs in {ctx.describe()}: changing it here would change "
        f"it for the whole host{seen}; {setting.host_instruction()}",
        current,
        raw,
        access,
    )


def write(
    setting: KernelSetting,
    raw: str | None,
    current: str | None,
    *,
    host: Host,
    journal: RollbackJournal,
    record: TuningRecord,
    boot_id: str | None,
) -> tuple[bool, dict[str, Any]]:
    """Write the desired value of ``setting`` (found as ``raw``, canonical ``current``), its
    original fsynced in the rollback journal first: (written, what happened). A write the
    kernel refuses is remembered for the rest of this boot."""
    journal.remember(
        RollbackEntry(
            id=setting.id,
            kind="value",
            setting_kind=setting.kind,
            path=setting.path,
            root=str(host.root),
            original=raw,
            fmt=str(setting.fmt),
            boot_id=boot_id,
        ),
        intended=setting.desired,
    )
    crashpoint(f"before-write:{setting.id}")
    return put(setting, current, host=host, record=record, boot_id=boot_id)


def put(
    setting: KernelSetting,
    current: str | None,
    *,
    host: Host,
    record: TuningRecord,
    boot_id: str | None,
) -> tuple[bool, dict[str, Any]]:
    """Write the desired value of ``setting`` and read it back, journaling nothing (the
    caller has: :func:`write`; or the value was journaled by an earlier apply: a re-apply
    at boot). A write the kernel refuses is remembered for the rest of this boot."""
    try:
        host.write(setting.path, setting.write_text())
    except OSError as exc:
        record.note_refusal(setting.id, exc, boot_id)
        error = f"{setting.path}: {exc.strerror or exc}"
        return False, {"id": setting.id, "error": error, "errno": exc.errno}
    crashpoint(f"after-write:{setting.id}")
    read_back = host.read(setting.path)
    got: str | None = None
    if read_back is not None:
        try:
            got = setting.canonical(read_back)
        except ValueError:
            got = read_back.strip()
    entry: dict[str, Any] = {
        "id": setting.id,
        "from": current,
        "to": setting.desired,
        "read_back": got,
    }
    if got != setting.desired:
        entry["short"] = f"the kernel took {got} instead of {setting.desired}" + setting.short_hint
    return True, entry


def assess(entry: RollbackEntry, host: Host, force: bool) -> RollbackStep:
    """What a rollback does with a kernel value ncctl wrote (journal entry kind ``value``)."""
    raw = host.read(entry.path)
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
    if raw == "" and not host.is_live:
        # a kernel file never reads as nothing: under a root that is not this machine's,
        # a plain file a killed run truncated (O_TRUNC) before its write
        return RollbackStep(entry, "restore", now, f"interrupted write -> {was}")
    if now in entry.intended:
        return RollbackStep(entry, "restore", now, f"{now} -> {was}")
    return foreign_step(entry, now, was, force)


def restore(entry: RollbackEntry, host: Host) -> None:
    """Write back the original of a kernel value (journal entry kind ``value``)."""
    host.write(entry.path, restore_form(ValueFormat(entry.fmt), entry.original or ""))
