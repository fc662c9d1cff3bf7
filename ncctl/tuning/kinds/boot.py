"""Kernel boot parameters: staged through the boot loader, verified after the reboot.

Two backends, chosen by what the target system has under the root
(:mod:`ncctl.tuning.kinds.boot_loader`): grubby, or a drop-in for update-grub.

A parameter is in effect when ``/proc/cmdline`` holds it (tokens up to ``--``: what follows
belongs to init) and, for those with a visible effect, when the kernel shows it:
``isolcpus`` in ``/sys/devices/system/cpu/isolated``, ``nohz_full`` in
``/sys/devices/system/cpu/nohz_full``, ``irqaffinity`` in ``/proc/irq/default_smp_affinity``.
The boot id at staging time is kept, so that after a reboot a parameter the boot loader did
not pass, or the kernel ignored, is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from ncctl.crashpoints import crashpoint
from ncctl.tuning.cpus import CpuPlan, substitute
from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist
from ncctl.tuning.files import write_file
from ncctl.tuning.host import Host, NamespaceContext
from ncctl.tuning.kinds import boot_state
from ncctl.tuning.kinds.base import Finding, Persistence, Scope, Verdict, described
from ncctl.tuning.kinds.boot_loader import (
    DROPIN,
    BootBackend,
    Grubby,
    GrubDropIn,
    Staged,
    detect_backend,
    parse_cmdline,
)
from ncctl.tuning.profiles import Profile
from ncctl.tuning.record import TuningRecord
from ncctl.tuning.rollback_journal import (
    RollbackEntry,
    RollbackJournal,
    RollbackStep,
    foreign_step,
    sha256_hex,
)
from ncctl.tuning.values import ValueFormat, canonical

CPULIST_PARAMS = frozenset({"nohz_full", "rcu_nocbs", "irqaffinity", "kthread_cpus"})
EFFECTS: dict[str, tuple[str, ValueFormat]] = {
    "isolcpus": ("/sys/devices/system/cpu/isolated", ValueFormat.CPULIST),
    "nohz_full": ("/sys/devices/system/cpu/nohz_full", ValueFormat.CPULIST),
    "irqaffinity": ("/proc/irq/default_smp_affinity", ValueFormat.CPUMASK),
}


def split_isolcpus(value: str) -> tuple[frozenset[str], CpuSet]:
    """``managed_irq,domain,2-3`` as (flags, CPUs)."""
    flags: set[str] = set()
    cpu_parts: list[str] = []
    for part in value.split(","):
        if part and part[0].isalpha():
            flags.add(part)
        else:
            cpu_parts.append(part)
    return frozenset(flags), parse_cpulist(",".join(cpu_parts))


@dataclass(frozen=True, kw_only=True)
class BootParam:
    """One kernel command-line parameter a profile wants."""

    id: str
    name: str
    value: str | None
    impossible: str | None = None
    scope: Scope = Scope.BOOT
    kind: ClassVar[str] = "boot"

    @property
    def label(self) -> str:
        return self.token()

    @property
    def path(self) -> str:
        return "/proc/cmdline"

    @property
    def desired(self) -> str:
        return self.token()

    def token(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value}"

    def canonical(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            if self.name == "isolcpus":
                flags, cpus = split_isolcpus(value)
                return ",".join([*sorted(flags), format_cpulist(cpus)])
            if self.name in CPULIST_PARAMS:
                return format_cpulist(parse_cpulist(value))
        except ValueError:
            return value
        return value

    def matches(self, params: dict[str, str | None]) -> bool:
        if self.name not in params:
            return False
        return self.canonical(params[self.name]) == self.canonical(self.value)

    def cpus(self) -> CpuSet | None:
        if self.value is None:
            return None
        try:
            if self.name == "isolcpus":
                flags, cpus = split_isolcpus(self.value)
                return cpus if (not flags or "domain" in flags) else None
            if self.name in CPULIST_PARAMS:
                return parse_cpulist(self.value)
        except ValueError:
            return None
        return None

    def ignored_by_kernel(self, host: Host) -> str | None:
        """Why the running kernel shows no effect of this parameter, or None."""
        effect = EFFECTS.get(self.name)
        cpus = self.cpus()
        if effect is None or cpus is None:
            return None
        path, fmt = effect
        raw = host.read(path)
        if raw is None:
            return f"{path} does not exist (the kernel lacks what {self.name} needs)"
        try:
            got = canonical(fmt, raw)
        except ValueError:
            return f"{path} reads {raw.strip()!r}"
        want = format_cpulist(cpus)
        if got != want:
            return f"{path} reads {got or '(empty)'}, not {want}"
        return None

    def persistence(self) -> Persistence:
        return Persistence.BOOT_LOADER

    def as_dict(self) -> dict[str, Any]:
        return described(self, "boot")


SETTING = BootParam
"""The class of this kind's settings."""


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[BootParam]:
    """One parameter per key of the profile's ``[boot]`` table."""
    params: list[BootParam] = []
    for name, value in profile.table("boot").items():
        if value is True:
            params.append(BootParam(id=f"boot:{name}", name=name, value=None))
            continue
        try:
            text, _, why = substitute(str(value), cpus)
        except ValueError as exc:
            raise ValueError(f"boot.{name}: {exc}") from None
        if name == "isolcpus" and not why and not split_isolcpus(text)[1]:
            why = "no CPU to isolate"
        params.append(BootParam(id=f"boot:{name}", name=name, value=text, impossible=why))
    return params


def probe(
    param: BootParam,
    host: Host,
    ctx: NamespaceContext,
    *,
    cmdline: dict[str, str | None],
    backend: BootBackend | None,
    staged: Staged | None,
    record: dict[str, Any],
) -> Finding:
    """Classify one boot parameter: in effect, ignored, staged, to stage, or out of reach."""
    if param.impossible:
        return Finding(Verdict.UNSUPPORTED, param.impossible)
    present = param.name in cmdline
    current = None
    if present:
        value = cmdline[param.name]
        current = param.name if value is None else f"{param.name}={value}"
    if param.matches(cmdline):
        ignored = param.ignored_by_kernel(host)
        if ignored:
            return Finding(
                Verdict.UNSUPPORTED,
                f"the kernel ignored {param.token()}: {ignored}",
                current,
                current,
            )
        return Finding(Verdict.OK, "in /proc/cmdline and in effect", current, current)
    if ctx.contained:
        return Finding(
            Verdict.HOST_ONLY,
            f"boot parameters belong to the host's kernel (ncctl runs in {ctx.describe()}): "
            f"the host operator must add {param.token()} to the kernel command line",
            current,
            current,
        )
    if backend is None:
        return Finding(
            Verdict.UNSUPPORTED,
            f"no boot-loader backend under {host.root}: neither grubby nor update-grub "
            f"(ncctl never edits grub.cfg); add {param.token()} to the kernel command line "
            "by hand",
            current,
            current,
        )
    if staged is not None and staged.confirmed and param.matches(staged.params):
        then, now = record.get("boot_id"), host.boot_id()
        if then and now and then != now:
            return Finding(
                Verdict.APPLY,
                f"staged before boot {then}, but this boot ({now}) started without it: the "
                "entry that booted was not regenerated (run `ncctl tune host` again)",
                current,
                current,
            )
        return Finding(
            Verdict.REBOOT,
            f"staged in {backend.target}; takes effect at the next reboot",
            current,
            current,
            staged=True,
        )
    why = f" ({staged.detail})" if staged is not None and staged.detail else ""
    return Finding(
        Verdict.REBOOT,
        f"to be staged in {backend.target}{why}; takes effect at the next reboot",
        current,
        current,
    )


def stage(
    params: list[BootParam],
    profile: str,
    *,
    host: Host,
    journal: RollbackJournal,
    record: TuningRecord,
    boot_id: str | None,
    now: datetime | None,
    files: list[dict[str, Any]],
    failed: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """Stage ``params`` in the boot loader (originals in the rollback journal first); files
    written and failures are added to ``files`` and ``failed``. What was staged, or None
    without a boot loader or a parameter that can be formed."""
    backend = detect_backend(host)
    params = [p for p in params if p.impossible is None]
    if backend is None or not params:
        return None
    tokens = [p.token() for p in params]
    stamp = now.isoformat(timespec="seconds") if now else None
    boot_state.remember(host, backend, journal, boot_id)
    if isinstance(backend, GrubDropIn):
        content = GrubDropIn.render(tokens, profile).encode()
        current = host.read(DROPIN)
        if current is None or current.encode() != content:
            write_file(host, journal, DROPIN, content, boot_id)
            files.append({"path": DROPIN, "action": "update" if current else "create"})
            crashpoint(f"after-write:file:{DROPIN}")
        outcome = backend.regenerate()
        crashpoint("after-regenerate")
        record.set_boot(
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
            journal.remember(
                RollbackEntry(
                    id=f"grubby:{p.name}",
                    kind="grubby",
                    path=p.name,
                    root=str(host.root),
                    original=_token(p.name, staged.params),
                    boot_id=boot_id,
                ),
                intended=p.token(),
            )
        outcome = backend.update([p.token() for p in needed], [])
        crashpoint("after-regenerate")
        if outcome.ok:
            record.set_boot(
                {"backend": backend.name, "params": tokens, "boot_id": boot_id, "staged_at": stamp}
            )
    if not outcome.ok:
        failed.append({"id": "boot", "error": outcome.message})
    return {"backend": backend.name, "params": tokens, "ok": outcome.ok, "message": outcome.message}


def assess(entry: RollbackEntry, grubby: Grubby | None, force: bool) -> RollbackStep:
    """What a rollback does with a parameter ncctl gave grubby (journal entry kind ``grubby``)."""
    if grubby is None:
        return RollbackStep(entry, "skip", None, "grubby is no longer available")
    now_token = _token(entry.path, grubby.staged({}).params)
    if now_token == entry.original:
        return RollbackStep(entry, "unchanged", now_token, "already the original")
    if now_token in entry.intended:
        return RollbackStep(entry, "restore", now_token, f"back to {entry.original or 'absent'}")
    return foreign_step(entry, str(now_token), str(entry.original), force)


def restore(entry: RollbackEntry, host: Host) -> None:
    """Give grubby back the original of a parameter (journal entry kind ``grubby``)."""
    grubby = Grubby(host)
    if entry.original is None:
        outcome = grubby.update([], [entry.path])
    else:
        outcome = grubby.update([entry.original], [])
    if not outcome.ok:
        raise OSError(outcome.message)


def unstage(
    host: Host, record: TuningRecord, backend: BootBackend | None, failed: list[dict[str, Any]]
) -> bool:
    """After a rollback changed the boot loader: regenerate the boot menu (a failure is
    added to ``failed``), drop the staging record when nothing failed, and say whether the
    running kernel still has parameters ncctl staged (a reboot drops them)."""
    live = _params_live(host, record)
    if isinstance(backend, GrubDropIn):
        outcome = backend.regenerate()
        if not outcome.ok:
            failed.append({"id": "boot", "error": outcome.message})
    if not failed:
        record.set_boot(None)
    return live


def _params_live(host: Host, record: TuningRecord) -> bool:
    """Whether the running kernel still has parameters ncctl staged (reboot to drop)."""
    staged = record.boot() if record.path.exists() else {}
    cmdline = parse_cmdline(host.cmdline_tokens())
    for token in staged.get("params", []):
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


def staged_now(
    host: Host, ctx: NamespaceContext, record: TuningRecord
) -> tuple[BootBackend | None, Staged | None, dict[str, Any]]:
    """The boot loader under the root, what it stages for the next boot (None inside a
    container) and ncctl's record of its own staging for that loader."""
    backend = detect_backend(host)
    found: dict[str, Any] = {}
    if backend is not None and record.path.exists():
        boot = record.boot()
        found = boot if boot.get("backend") == backend.name else {}
    staged = backend.staged(found) if backend is not None and not ctx.contained else None
    return backend, staged, found
