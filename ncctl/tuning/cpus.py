"""The CPUs of one host as a tuning profile divides them (housekeeping and isolated), and
the ``{housekeeping}``/``{isolated}``/``{online}`` placeholders of profile values.

The division is by whole cores (:mod:`ncctl.tuning.topology`): the SMT siblings of a
housekeeping CPU are housekeeping too; ``isolated = "auto"`` (or no ``isolated``) is every
online CPU outside the housekeeping cores; every NUMA node that holds a NIC (``nic``: the
interfaces, comma-separated; by default every interface with a PCI device) keeps a
housekeeping core, one being added (and said so) when the profile names none there. An
explicit ``isolated`` list wins over the expansion; an isolated CPU that then shares a core
with a housekeeping CPU is flagged by the plan (:mod:`ncctl.tuning.kinds.cores`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ncctl.errors import ConfigError
from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist
from ncctl.tuning.host import Host
from ncctl.tuning.profiles import Profile
from ncctl.tuning.topology import Topology, make_topology, nic_nodes, read_topology

_PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")


@dataclass(frozen=True)
class CpuPlan:
    """The CPUs of this host as the profile divides them."""

    online: CpuSet
    housekeeping: CpuSet
    isolated: CpuSet
    topology: Topology | None = None
    shared: dict[int, CpuSet] = field(default_factory=dict)
    """Isolated CPUs that share a core with housekeeping CPUs (an explicit isolated list)."""

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


@dataclass(frozen=True)
class Division:
    """Housekeeping and isolated CPUs by whole cores, and what the division had to add."""

    housekeeping: CpuSet
    isolated: CpuSet
    shared: dict[int, CpuSet]
    notes: list[str]


def divide(
    topology: Topology, housekeeping: CpuSet, isolated: CpuSet | None, nics: dict[str, int]
) -> Division:
    """Divide ``topology``'s CPUs (see the module docstring); ``isolated`` None is auto."""
    notes: list[str] = []
    explicit = isolated or frozenset()
    chosen = (topology.whole_cores(housekeeping) | housekeeping) - explicit
    if chosen - housekeeping:
        notes.append(
            f"housekeeping CPUs {format_cpulist(housekeeping)} taken as whole cores: "
            f"{format_cpulist(chosen)} (their SMT siblings are housekeeping too)"
        )
    for node in sorted(set(nics.values())):
        node_cpus = topology.nodes.get(node, frozenset())
        if not node_cpus or chosen & node_cpus:
            continue
        names = ", ".join(sorted(n for n, k in nics.items() if k == node))
        cores = [topology.core_of(c) for c in sorted(node_cpus)]
        free = [c for c in cores if not c & explicit]
        if not free:
            notes.append(
                f"NUMA node {node} holds NIC {names} but no housekeeping core, and the "
                "profile's isolated list leaves none to add"
            )
            continue
        chosen |= free[0]
        notes.append(
            f"NUMA node {node} holds NIC {names} but no housekeeping core: CPUs "
            f"{format_cpulist(free[0])} (its first core) added to housekeeping"
        )
    final = topology.online - chosen if isolated is None else isolated
    shared = {c: topology.core_of(c) & chosen for c in sorted(final)}
    return Division(chosen, final, {c: s for c, s in shared.items() if s}, notes)


def _isolated_spec(table: dict[str, object]) -> CpuSet | None:
    raw = table.get("isolated")
    if raw is None or str(raw).strip() == "auto":
        return None
    return parse_cpulist(str(raw))


def _nic_names(table: dict[str, object]) -> list[str] | None:
    raw = table.get("nic")
    if raw is None or str(raw).strip() == "auto":
        return None
    return [n.strip() for n in str(raw).split(",") if n.strip()]


def cpu_plan(profile: Profile, host: Host) -> tuple[CpuPlan, list[str]]:
    """Housekeeping and isolated CPUs by whole cores; CPU 0 stays housekeeping unless the
    profile says why."""
    online = host.online_cpus()
    table = profile.table("cpus")
    where = f"tuning profile {profile.source}"
    try:
        housekeeping = parse_cpulist(str(table.get("housekeeping", "0")))
        explicit = _isolated_spec(table)
    except ValueError as exc:
        raise ConfigError(
            f"{where}: cpus: {exc}", hint='CPU lists look like "0" or "2-7,9", or "auto"'
        ) from None
    warnings: list[str] = []
    if not housekeeping:
        raise ConfigError(f"{where}: cpus.housekeeping is empty", hint="keep at least CPU 0")
    if explicit is not None and housekeeping & explicit:
        raise ConfigError(
            f"{where}: CPUs {format_cpulist(housekeeping & explicit)} are both housekeeping "
            "and isolated",
            hint="a CPU is one or the other",
        )
    if online and not housekeeping <= online:
        raise ConfigError(
            f"{where}: cpus.housekeeping {format_cpulist(housekeeping)} names CPUs that are "
            f"not online here (online: {format_cpulist(online)})",
            hint="use a profile written for this machine",
        )
    topology = read_topology(host) if online else make_topology(online, {}, {})
    division = divide(topology, housekeeping, explicit, nic_nodes(host, _nic_names(table)))
    warnings.extend(division.notes)
    isolated = division.isolated
    if 0 in isolated:
        if not profile.isolate_cpu0_reason:
            raise ConfigError(
                f"{where}: CPU 0 would be isolated, but CPU 0 is a housekeeping core",
                hint="add CPU 0 to cpus.housekeeping, or set isolate_cpu0_reason to say why",
            )
        warnings.append(f"CPU 0 is isolated by the profile: {profile.isolate_cpu0_reason}")
    plan = CpuPlan(online, division.housekeeping, isolated, topology, division.shared)
    return plan, warnings


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
