"""Typed settings: one class per kind of kernel file, each able to read, normalise, probe,
plan, write and be verified, with a scope (network namespace, host or boot).

* :class:`Sysctl` – ``/proc/sys/...``; ``net.ipv4.*``/``net.ipv6.*`` are per network
  namespace, everything else (``net.core.*``, ``vm.*``, ``kernel.*``) is host-wide;
* :class:`SysfsValue` – any ``/sys`` file (workqueue masks, KSM);
* :class:`HugePages` – one page size, host total or one NUMA node;
* :class:`Thp` – a transparent-huge-page selection file (``always [madvise] never``);
* :class:`Governor` – the cpufreq governor of one CPU;
* :class:`IrqAffinity` – one IRQ's CPU list, or the default mask for new IRQs;
* boot parameters are :class:`ncctl.tuning.boot.BootParam`.

:func:`expand` turns a :class:`~ncctl.tuning.profiles.Profile` into concrete settings for one
host (which CPUs are online, which IRQs exist), and :func:`probe` gives each a
:class:`Finding`: its current value and a :class:`Verdict`.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from ncctl.errors import ConfigError
from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist
from ncctl.tuning.host import Access, Host, NamespaceContext
from ncctl.tuning.profiles import Profile, huge_size_kb, node_number
from ncctl.tuning.values import ValueFormat, canonical, choices, writable_form

MAX_IRQS = 4096
WEAKENING = {
    "net.ipv4.tcp_timestamps": "weakens PAWS (protection against wrapped sequence numbers) "
    "and RTT measurement",
    "net.ipv4.tcp_sack": "weakens loss recovery (a lost segment costs a whole window)",
}
_PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")


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


@dataclass(frozen=True)
class CpuPlan:
    """The CPUs of this host as the profile divides them."""

    online: CpuSet
    housekeeping: CpuSet
    isolated: CpuSet

    def named(self, name: str) -> CpuSet | None:
        return {
            "all": self.online,
            "online": self.online,
            "housekeeping": self.housekeeping,
            "isolated": self.isolated,
        }.get(name)

    def as_dict(self) -> dict[str, str]:
        return {
            "online": format_cpulist(self.online),
            "housekeeping": format_cpulist(self.housekeeping),
            "isolated": format_cpulist(self.isolated),
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

    def missing(self) -> str:
        return f"{self.path} does not exist on this kernel"

    def host_instruction(self) -> str:
        return f"the host operator must write {self.write_text()!r} to {self.path}"

    def read_only(self) -> tuple[Verdict, str]:
        """A file nobody may write (mode 0444): the kernel's own answer, not this user's."""
        return Verdict.UNSUPPORTED, f"{self.path} is read-only for everyone on this kernel"

    def persist_line(self) -> str:
        value = self.write_text().replace("%", "%%")
        return f"w {self.path} - - - - {value}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "scope": str(self.scope),
            "path": self.path,
            "desired": self.desired,
            "format": str(self.fmt),
            "persistence": str(self.persistence()),
        }


@dataclass(frozen=True, kw_only=True)
class Sysctl(KernelSetting):
    kind: ClassVar[str] = "sysctl"
    persist_via: ClassVar[Persistence] = Persistence.SYSCTL_D

    def missing(self) -> str:
        return f"this kernel has no {self.label} ({self.path})"

    def host_instruction(self) -> str:
        if self.scope is Scope.NETNS:
            return (
                f"set {self.label}={self.write_text()} for this network namespace from "
                "outside it (e.g. `docker run --sysctl`, or the pod's securityContext)"
            )
        return (
            f"the host operator must set {self.label} = {self.write_text()} on the host "
            "(sysctl -w, and a file in /etc/sysctl.d)"
        )

    def persist_line(self) -> str:
        return f"{self.label} = {self.write_text()}"

    def read_only(self) -> tuple[Verdict, str]:
        # a host-wide sysctl seen from another network namespace is shown read-only
        return Verdict.HOST_ONLY, f"read-only here (mode 0444): {self.host_instruction()}"


@dataclass(frozen=True, kw_only=True)
class SysfsValue(KernelSetting):
    kind: ClassVar[str] = "sysfs"


@dataclass(frozen=True, kw_only=True)
class HugePages(KernelSetting):
    kind: ClassVar[str] = "hugepages"

    def missing(self) -> str:
        return f"{self.path} does not exist: no such huge page size or NUMA node here"

    def disruption(self, current: str) -> str | None:
        try:
            now, want = int(current), int(self.desired)
        except ValueError:
            return None
        if want < now:
            return f"shrinks the {self.label} pool from {now} to {want} pages"
        if want > now:
            return (
                f"grows the {self.label} pool from {now} to {want} pages: the kernel compacts "
                "memory to find them, stalling allocations"
            )
        return None


@dataclass(frozen=True, kw_only=True)
class Thp(KernelSetting):
    kind: ClassVar[str] = "thp"

    def check_value(self, raw: str) -> str | None:
        offered = choices(raw)
        if "[" in raw and self.desired not in offered:
            return f"{self.path} offers {', '.join(offered)}, not {self.desired}"
        return None


@dataclass(frozen=True, kw_only=True)
class Governor(KernelSetting):
    kind: ClassVar[str] = "governor"
    available: tuple[str, ...] | None = None

    def missing(self) -> str:
        return (
            f"{self.path} does not exist: no cpufreq driver for this CPU (a virtual machine, "
            "or the firmware controls the frequency)"
        )

    def check_value(self, raw: str) -> str | None:
        if self.available is not None and self.desired not in self.available:
            return f"this cpufreq driver offers {', '.join(self.available)}, not {self.desired}"
        return None


@dataclass(frozen=True, kw_only=True)
class IrqAffinity(KernelSetting):
    kind: ClassVar[str] = "irq"
    irq: str = ""

    def read_only(self) -> tuple[Verdict, str]:
        return (
            Verdict.UNSUPPORTED,
            f"the kernel does not allow moving IRQ {self.irq} (a managed or per-CPU interrupt)",
        )

    def disruption(self, current: str) -> str | None:
        if self.irq == "default":
            return None  # only IRQs set up later take the default
        return f"moves IRQ {self.irq} from CPUs {current or '-'} to {self.desired}"

    def persistence(self) -> Persistence:
        # IRQ numbers change between boots: the irqaffinity= boot parameter persists the
        # housekeeping CPUs instead; the default mask for new IRQs is kept by tmpfiles.d.
        return Persistence.TMPFILES if self.irq == "default" else Persistence.NONE


@dataclass
class Expansion:
    """A profile made concrete for one host."""

    cpus: CpuPlan
    settings: list[KernelSetting] = field(default_factory=list)
    boot: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def cpu_plan(profile: Profile, host: Host) -> tuple[CpuPlan, list[str]]:
    """Housekeeping and isolated CPUs; CPU 0 stays housekeeping unless the profile says why."""
    online = host.online_cpus()
    table = profile.table("cpus")
    where = f"tuning profile {profile.source}"
    try:
        housekeeping = parse_cpulist(str(table.get("housekeeping", "0")))
        explicit = table.get("isolated")
        isolated = parse_cpulist(str(explicit)) if explicit is not None else online - housekeeping
    except ValueError as exc:
        raise ConfigError(
            f"{where}: cpus: {exc}", hint='CPU lists look like "0" or "2-7,9"'
        ) from None
    warnings: list[str] = []
    if not housekeeping:
        raise ConfigError(f"{where}: cpus.housekeeping is empty", hint="keep at least CPU 0")
    if housekeeping & isolated:
        raise ConfigError(
            f"{where}: CPUs {format_cpulist(housekeeping & isolated)} are both housekeeping "
            "and isolated",
            hint="a CPU is one or the other",
        )
    if 0 in isolated:
        if not profile.isolate_cpu0_reason:
            raise ConfigError(
                f"{where}: CPU 0 would be isolated, but CPU 0 is a housekeeping core",
                hint="add CPU 0 to cpus.housekeeping, or set isolate_cpu0_reason to say why",
            )
        warnings.append(f"CPU 0 is isolated by the profile: {profile.isolate_cpu0_reason}")
    if online and not housekeeping <= online:
        raise ConfigError(
            f"{where}: cpus.housekeeping {format_cpulist(housekeeping)} names CPUs that are "
            f"not online here (online: {format_cpulist(online)})",
            hint="use a profile written for this machine",
        )
    return CpuPlan(online, housekeeping, isolated), warnings


def substitute(text: str, cpus: CpuPlan) -> tuple[str, bool, str | None]:
    """``{housekeeping}``/``{isolated}``/``{online}`` replaced by CPU lists: (text, used,
    why-impossible)."""
    used = False
    empty: str | None = None

    def replace(found: re.Match[str]) -> str:
        nonlocal used, empty
        name = found.group(1)
        chosen = cpus.named(name)
        if chosen is None or name == "all":
            raise ValueError(f"unknown placeholder {{{name}}}")
        used = True
        if not chosen:
            empty = f"no {name} CPUs on this host (online: {format_cpulist(cpus.online)})"
        return format_cpulist(chosen)

    return _PLACEHOLDER.sub(replace, text), used, empty


def resolve_cpus(spec: str, cpus: CpuPlan) -> CpuSet:
    """A CPU spec: ``all``, ``housekeeping``, ``isolated``, ``{…}`` or a CPU list."""
    named = cpus.named(spec.strip())
    if named is not None:
        return named
    text, _, _ = substitute(spec, cpus)
    return parse_cpulist(text)


def _value_spec(value: Any, cpus: CpuPlan) -> tuple[str, ValueFormat, str | None]:
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


def sysctl_path(name: str) -> str:
    rel = name if "/" in name else name.replace(".", "/")
    return "/proc/sys/" + rel.strip("/")


def sysctl_scope(name: str) -> Scope:
    dotted = name.replace("/", ".")
    if dotted.startswith(("net.ipv4.", "net.ipv6.", "net.unix.", "net.netfilter.")):
        return Scope.NETNS
    return Scope.HOST


def expand(profile: Profile, host: Host) -> Expansion:
    """Every setting of ``profile`` as it applies to ``host``."""
    from ncctl.tuning.boot import boot_params

    cpus, warnings = cpu_plan(profile, host)
    out = Expansion(cpus=cpus, warnings=warnings)
    where = f"tuning profile {profile.source}"
    try:
        out.settings.extend(_sysctls(profile, cpus, out.warnings))
        out.settings.extend(_sysfs(profile, cpus))
        out.settings.extend(_hugepages(profile))
        out.settings.extend(_thp(profile))
        out.settings.extend(_governors(profile, host, cpus))
        out.settings.extend(_irqs(profile, host, cpus))
        out.boot.extend(boot_params(profile, cpus))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}", hint="fix the value named") from None
    return out


def _sysctls(profile: Profile, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    found: list[KernelSetting] = []
    for name, value in profile.table("sysctl").items():
        try:
            desired, fmt, why = _value_spec(value, cpus)
        except ValueError as exc:
            raise ValueError(f"sysctl.{name}: {exc}") from None
        label = name.replace("/", ".") if "/" not in name else name
        if label in WEAKENING and desired == "0":
            if not profile.weaken_tcp_reason:
                raise ConfigError(
                    f"tuning profile {profile.source}: sysctl.{label} = 0 {WEAKENING[label]}",
                    hint="opt in with weaken_tcp_reason = '...' in the profile, or drop it",
                )
            warnings.append(
                f"{label} = 0 {WEAKENING[label]}; the profile opts in: {profile.weaken_tcp_reason}"
            )
        found.append(
            Sysctl(
                id=f"sysctl:{label}",
                label=label,
                path=sysctl_path(name),
                desired=desired,
                fmt=fmt,
                scope=sysctl_scope(name),
                impossible=why,
            )
        )
    return found


def _sysfs(profile: Profile, cpus: CpuPlan) -> list[KernelSetting]:
    found: list[KernelSetting] = []
    for key, value in profile.table("sysfs").items():
        rel = key.removeprefix("/sys/").strip("/")
        try:
            desired, fmt, why = _value_spec(value, cpus)
        except ValueError as exc:
            raise ValueError(f"sysfs.{key}: {exc}") from None
        path = f"/sys/{rel}"
        found.append(
            SysfsValue(
                id=f"sysfs:{path}", label=path, path=path, desired=desired, fmt=fmt, impossible=why
            )
        )
    return found


def _hugepages(profile: Profile) -> list[KernelSetting]:
    found: list[KernelSetting] = []
    for size, value in profile.table("hugepages").items():
        kb = huge_size_kb(size)
        pool = f"hugepages-{kb}kB"
        if isinstance(value, int):
            path = f"/sys/kernel/mm/hugepages/{pool}/nr_hugepages"
            found.append(
                HugePages(
                    id=f"hugepages:{kb}kB",
                    label=f"hugepages-{kb}kB",
                    path=path,
                    desired=str(value),
                    fmt=ValueFormat.INT,
                )
            )
            continue
        for node_key in sorted(value, key=node_number):
            node = node_number(node_key)
            path = f"/sys/devices/system/node/node{node}/hugepages/{pool}/nr_hugepages"
            found.append(
                HugePages(
                    id=f"hugepages:{kb}kB:node{node}",
                    label=f"hugepages-{kb}kB on node{node}",
                    path=path,
                    desired=str(value[node_key]),
                    fmt=ValueFormat.INT,
                )
            )
    return found


def _thp(profile: Profile) -> list[KernelSetting]:
    return [
        Thp(
            id=f"thp:{key}",
            label=f"transparent_hugepage/{key}",
            path=f"/sys/kernel/mm/transparent_hugepage/{key}",
            desired=str(value),
            fmt=ValueFormat.SELECTION,
        )
        for key, value in profile.table("thp").items()
    ]


def _governors(profile: Profile, host: Host, cpus: CpuPlan) -> list[KernelSetting]:
    chosen: dict[int, str] = {}
    for spec, governor in profile.table("governor").items():
        try:
            targets = resolve_cpus(spec, cpus)
        except ValueError as exc:
            raise ValueError(f"governor.{spec}: {exc}") from None
        for cpu in targets:
            chosen[cpu] = str(governor)
    found: list[KernelSetting] = []
    for cpu in sorted(chosen):
        base = f"/sys/devices/system/cpu/cpu{cpu}/cpufreq"
        offered = host.read(f"{base}/scaling_available_governors")
        found.append(
            Governor(
                id=f"governor:cpu{cpu}",
                label=f"cpu{cpu} governor",
                path=f"{base}/scaling_governor",
                desired=chosen[cpu],
                available=tuple(offered.split()) if offered else None,
            )
        )
    return found


def irq_numbers(host: Host) -> list[int]:
    """The IRQs present under the root's /proc/irq, ascending (at most MAX_IRQS)."""
    directory = host.path("/proc/irq")
    try:
        names = [p.name for p in directory.iterdir() if p.name.isdigit()]
    except OSError:
        return []
    return sorted(int(n) for n in names)[:MAX_IRQS]


def _irqs(profile: Profile, host: Host, cpus: CpuPlan) -> list[KernelSetting]:
    table = profile.table("irq")
    if not table:
        return []
    wanted: dict[str, str] = {}
    if "all" in table:
        for number in irq_numbers(host):
            wanted[str(number)] = table["all"]
    for key, spec in table.items():
        if key != "all":
            wanted[key] = spec
    found: list[KernelSetting] = []
    order = sorted(wanted, key=lambda k: (k != "default", int(k) if k.isdigit() else -1))
    for key in order:
        try:
            chosen = resolve_cpus(wanted[key], cpus)
        except ValueError as exc:
            raise ValueError(f"irq.{key}: {exc}") from None
        why = None if chosen else f"CPU set {wanted[key]!r} is empty on this host"
        if key == "default":
            path, fmt = "/proc/irq/default_smp_affinity", ValueFormat.CPUMASK
        else:
            path, fmt = f"/proc/irq/{key}/smp_affinity_list", ValueFormat.CPULIST
        found.append(
            IrqAffinity(
                id=f"irq:{key}",
                label="default IRQ affinity" if key == "default" else f"IRQ {key}",
                path=path,
                desired=format_cpulist(chosen),
                fmt=fmt,
                irq=key,
                impossible=why,
            )
        )
    return found


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
    if raw is None:
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
    if setting.scope is Scope.HOST and ctx.contained:
        return Finding(
            Verdict.HOST_ONLY,
            f"host-wide, and ncctl runs in {ctx.describe()}: changing it here would change "
            f"it for the whole host; {setting.host_instruction()}",
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
