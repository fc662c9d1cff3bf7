"""Kernel boot parameters: staged through the boot loader, verified after the reboot.

Two backends, chosen by what the target system has (under the root):

* ``grubby`` (Fedora, RHEL): ``grubby --update-kernel=ALL --args=...`` and, to undo,
  ``--remove-args=NAME`` or the original ``--args=NAME=VALUE``;
* ``update-grub`` (Debian, Ubuntu): a drop-in ``/etc/default/grub.d/99-ncctl.cfg`` that
  appends to ``GRUB_CMDLINE_LINUX``, then ``update-grub``. ncctl never edits ``grub.cfg``
  or ``/etc/default/grub``.

A parameter is in effect when ``/proc/cmdline`` holds it (tokens up to ``--``: what follows
belongs to init) and, for those with a visible effect, when the kernel shows it:
``isolcpus`` in ``/sys/devices/system/cpu/isolated``, ``nohz_full`` in
``/sys/devices/system/cpu/nohz_full``, ``irqaffinity`` in ``/proc/irq/default_smp_affinity``.
The boot id at staging time is kept, so that after a reboot a parameter the boot loader did
not pass, or the kernel ignored, is reported as such.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist
from ncctl.tuning.host import Host, NamespaceContext
from ncctl.tuning.settings import CpuPlan, Finding, Persistence, Scope, Verdict, substitute
from ncctl.tuning.values import ValueFormat, canonical

if TYPE_CHECKING:
    from ncctl.tuning.profiles import Profile

CPULIST_PARAMS = frozenset({"nohz_full", "rcu_nocbs", "irqaffinity", "kthread_cpus"})
EFFECTS: dict[str, tuple[str, ValueFormat]] = {
    "isolcpus": ("/sys/devices/system/cpu/isolated", ValueFormat.CPULIST),
    "nohz_full": ("/sys/devices/system/cpu/nohz_full", ValueFormat.CPULIST),
    "irqaffinity": ("/proc/irq/default_smp_affinity", ValueFormat.CPUMASK),
}
DROPIN = "/etc/default/grub.d/99-ncctl.cfg"
ABSENT = object()


def parse_cmdline(tokens: list[str]) -> dict[str, str | None]:
    """Kernel parameters by name (the last one wins, as for most parameters); a flag
    without ``=`` has the value None."""
    found: dict[str, str | None] = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        found[name] = value if sep else None
    return found


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
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "scope": str(self.scope),
            "path": self.path,
            "desired": self.desired,
            "format": "boot",
            "persistence": str(self.persistence()),
        }


def boot_params(profile: Profile, cpus: CpuPlan) -> list[BootParam]:
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


@dataclass
class Staged:
    """What the boot loader will pass at the next boot, as far as ncctl can tell."""

    params: dict[str, str | None]
    confirmed: bool
    detail: str = ""


@dataclass
class StageOutcome:
    ok: bool
    message: str
    record: dict[str, Any] = field(default_factory=dict)


class GrubDropIn:
    """``/etc/default/grub.d/99-ncctl.cfg`` + ``update-grub`` (Debian family)."""

    name = "update-grub"
    target = DROPIN

    def __init__(self, host: Host) -> None:
        self.host = host

    @staticmethod
    def render(params: list[BootParam], profile: str) -> str:
        tokens = " ".join(p.token() for p in params)
        return (
            f"# Written by `ncctl tune host` for tuning profile {profile}.\n"
            "# `ncctl tune rollback` removes it: change the profile, not this file.\n"
            "# update-grub reads /etc/default/grub.d/*.cfg after /etc/default/grub.\n"
            f'GRUB_CMDLINE_LINUX="${{GRUB_CMDLINE_LINUX}} {tokens}"\n'
        )

    def dropin_params(self) -> dict[str, str | None] | None:
        text = self.host.read(DROPIN)
        if text is None:
            return None
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("GRUB_CMDLINE_LINUX="):
                try:
                    words = shlex.split(stripped.partition("=")[2])
                except ValueError:
                    return {}
                tokens = " ".join(words).split()
                return parse_cmdline([t for t in tokens if not t.startswith("$")])
        return {}

    def staged(self, record: dict[str, Any]) -> Staged:
        from ncctl.tuning.state import sha256_hex

        params = self.dropin_params()
        if params is None:
            return Staged({}, confirmed=True, detail=f"{DROPIN} does not exist")
        text = self.host.read(DROPIN) or ""
        confirmed = bool(record.get("updated")) and record.get("dropin_sha256") == sha256_hex(
            text.encode()
        )
        detail = "" if confirmed else "update-grub has not run successfully since it changed"
        return Staged(params, confirmed, detail)

    def regenerate(self) -> StageOutcome:
        result = self.host.run(["update-grub"])
        if not result.ok:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return StageOutcome(False, f"update-grub failed (exit {result.returncode}): {last}")
        return StageOutcome(True, "update-grub regenerated the boot menu")


class Grubby:
    """``grubby --update-kernel=ALL`` (Fedora/RHEL family)."""

    name = "grubby"
    target = "every kernel entry (grubby --update-kernel=ALL)"

    def __init__(self, host: Host) -> None:
        self.host = host

    def staged(self, record: dict[str, Any]) -> Staged:
        result = self.host.run(["grubby", "--info=DEFAULT"])
        if not result.ok:
            return Staged({}, confirmed=False, detail=f"grubby --info failed: {result.stderr}")
        for line in result.stdout.splitlines():
            if line.startswith("args="):
                raw = line.partition("=")[2].strip().strip('"')
                return Staged(parse_cmdline(raw.split()), confirmed=True)
        return Staged({}, confirmed=True)

    def update(self, args: list[str], remove: list[str]) -> StageOutcome:
        argv = ["grubby", "--update-kernel=ALL"]
        if args:
            argv.append("--args=" + " ".join(args))
        if remove:
            argv.append("--remove-args=" + " ".join(remove))
        result = self.host.run(argv)
        if not result.ok:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return StageOutcome(False, f"grubby failed (exit {result.returncode}): {last}")
        return StageOutcome(True, "grubby updated every kernel entry")


BootBackend = GrubDropIn | Grubby


def detect_backend(host: Host) -> BootBackend | None:
    """grubby where it exists (it owns the entries there), else update-grub, else None."""
    if host.find_command("grubby"):
        return Grubby(host)
    if host.find_command("update-grub"):
        return GrubDropIn(host)
    return None


def probe_boot(
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
