"""A profile made concrete for one host, and the plan: every setting, current against
desired, with a verdict (:func:`make_plan` reads and writes nothing).

Each kind of setting is a module of :mod:`ncctl.tuning.kinds` with an ``expand`` function
from its table of the profile to settings; :func:`expand` runs them all, boot included.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ncctl.errors import ConfigError
from ncctl.tuning import latency
from ncctl.tuning.cpus import CpuPlan, cpu_plan
from ncctl.tuning.host import Host, NamespaceContext
from ncctl.tuning.kinds import boot, cores, governor, hugepages, irq, sysctl, sysfs, thp
from ncctl.tuning.kinds.base import Finding, KernelSetting, Verdict, probe
from ncctl.tuning.kinds.boot import BootParam
from ncctl.tuning.kinds.boot_loader import parse_cmdline
from ncctl.tuning.kthreads import unmoved
from ncctl.tuning.latency import LatencyCheck
from ncctl.tuning.persist import FileChange, planned_files
from ncctl.tuning.pin_files import pin_files
from ncctl.tuning.pinning import pin_options
from ncctl.tuning.profiles import Profile
from ncctl.tuning.record import TuningRecord
from ncctl.tuning.window import TradingWindow

KERNEL_FILE_KINDS = (cores, sysctl, sysfs, hugepages, thp, governor, irq)
"""The kinds of kernel-file settings, in the order a plan lists them (boot comes last)."""
SETTING_CLASSES: dict[str, type[KernelSetting]] = {
    k.SETTING.kind: k.SETTING for k in KERNEL_FILE_KINDS
}
"""The class of each kind of kernel-file setting, by the kind's name (as journaled)."""

Setting = KernelSetting | BootParam


@dataclass
class Expansion:
    """A profile made concrete for one host."""

    cpus: CpuPlan
    settings: list[KernelSetting] = field(default_factory=list)
    boot: list[BootParam] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def expand(profile: Profile, host: Host) -> Expansion:
    """Every setting of ``profile`` as it applies to ``host``."""
    cpus, warnings = cpu_plan(profile, host)
    out = Expansion(cpus=cpus, warnings=warnings)
    try:
        for kind in KERNEL_FILE_KINDS:
            out.settings.extend(kind.expand(profile, host, cpus, out.warnings))
        out.boot.extend(boot.expand(profile, host, cpus, out.warnings))
    except ValueError as exc:
        raise ConfigError(
            f"tuning profile {profile.source}: {exc}", hint="fix the value named"
        ) from None
    return out


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
    latency: LatencyCheck | None = None
    """``/dev/cpu_dma_latency`` read back against ``[pin] force_latency``."""

    def compliance(self) -> Compliance:
        """1 when ``tune host`` would change something (or force_latency is not held), else
        3 when a reboot would finish the job, else 4 when something cannot be reached from
        here, else 0."""
        held = self.latency.verdict if self.latency else "ok"
        if any(i.drifting for i in self.items) or self.file_drift() or held == "drift":
            return Compliance.DRIFT
        if any(i.finding.verdict is Verdict.REBOOT for i in self.items):
            return Compliance.REBOOT_PENDING
        unreachable = (Verdict.HOST_ONLY, Verdict.UNSUPPORTED)
        if any(i.finding.verdict in unreachable for i in self.items) or held in unreachable:
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
            "topology": self.cpus.topology.as_dict() if self.cpus.topology else None,
            "trading": self.window.as_dict(),
            "settings": [i.as_dict() for i in self.items],
            "files": [f.as_dict() for f in self.files],
            "force_latency": self.latency.as_dict() if self.latency else None,
            "summary": self.summary(),
            "status": status.label,
            "exit_code": int(status),
        }


def make_plan(profile: Profile, host: Host, record: TuningRecord, window: TradingWindow) -> Plan:
    """Read every setting of ``profile`` on ``host`` and classify it; write nothing."""
    expansion = expand(profile, host)
    ctx = host.context()
    boot_id = host.boot_id()
    refusals = record.refusals(boot_id) if record.path.exists() else {}
    items = [PlanItem(s, probe(s, host, ctx, refusals.get(s.id))) for s in expansion.settings]
    backend = None
    if expansion.boot:
        backend, staged, staging = boot.staged_now(host, ctx, record)
        cmdline = parse_cmdline(host.cmdline_tokens())
        items.extend(
            PlanItem(
                p,
                boot.probe(
                    p, host, ctx, cmdline=cmdline, backend=backend, staged=staged, record=staging
                ),
            )
            for p in expansion.boot
        )
    pairs = [(i.setting, i.finding) for i in items if isinstance(i.setting, KernelSetting)]
    files = [
        *planned_files(host, profile.name, pairs, ctx),
        *pin_files(host, profile, expansion.cpus, ctx),
    ]
    warnings = list(expansion.warnings)
    mode = pin_options(profile).irqbalance
    irqs = any(i.setting.kind == "irq" for i in items)
    running = irqs and mode != "ban" and bool(host.processes_named("irqbalance"))
    if running and mode == "stop":
        warnings.append("irqbalance is running although the profile stops it: `tune host` does")
    elif running:
        warnings.append(
            "irqbalance is running: it will move IRQs off the housekeeping CPUs; stop it "
            'or set [pin] irqbalance = "ban" in the profile'
        )
    if pin_options(profile).kthreads and not ctx.contained and expansion.cpus.isolated:
        left = unmoved(host, expansion.cpus)
        if left:
            names = ", ".join(f"{t.comm} ({t.pid})" for t in left[:3])
            more = f" and {len(left) - 3} more" if len(left) > 3 else ""
            warnings.append(
                f"{len(left)} kernel threads may run on isolated CPUs ({names}{more}): "
                "`tune host` or `tune reapply` moves them"
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
        latency=latency.check(host, profile, ctx.contained)
        if pin_options(profile).force_latency is not None
        else None,
    )
