"""The CPUs of one host as a tuning profile divides them (housekeeping and isolated), and
the ``{housekeeping}``/``{isolated}``/``{online}`` placeholders of profile values."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ncctl.errors import ConfigError
from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist
from ncctl.tuning.host import Host
from ncctl.tuning.profiles import Profile

_PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")


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
