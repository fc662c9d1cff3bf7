"""The CPU topology of a host, read under its root: which CPUs share a core (SMT siblings),
which NUMA node holds each CPU and each NIC.

* ``/sys/devices/system/cpu/cpuN/topology/thread_siblings_list``: the CPUs of N's core;
* ``/sys/devices/system/node/nodeK/cpulist``: the CPUs of NUMA node K;
* ``/sys/class/net/IF/device/numa_node``: the node of a NIC's PCI device (-1: none).

A CPU whose topology cannot be read is a core of its own (what a kernel without SMT shows);
offline CPUs are left out of every set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist
from ncctl.tuning.host import Host

MAX_NODES = 1024
MAX_INTERFACES = 1024


@dataclass(frozen=True)
class Topology:
    """The online CPUs grouped by core and by NUMA node."""

    online: CpuSet
    cores: tuple[CpuSet, ...]
    """Every core's online CPUs, ordered by their lowest CPU; together exactly ``online``."""
    nodes: dict[int, CpuSet] = field(default_factory=dict)

    def core_of(self, cpu: int) -> CpuSet:
        for core in self.cores:
            if cpu in core:
                return core
        return frozenset({cpu})

    def whole_cores(self, cpus: CpuSet) -> CpuSet:
        """``cpus`` with every SMT sibling of each of them."""
        out: set[int] = set()
        for cpu in cpus:
            out |= self.core_of(cpu)
        return frozenset(out)

    def smt(self) -> bool:
        return any(len(core) > 1 for core in self.cores)

    def as_dict(self) -> dict[str, object]:
        return {
            "smt": self.smt(),
            "cores": [format_cpulist(c) for c in self.cores],
            "nodes": {str(n): format_cpulist(c) for n, c in sorted(self.nodes.items())},
        }


def make_topology(
    online: CpuSet, siblings: dict[int, CpuSet], nodes: dict[int, CpuSet]
) -> Topology:
    """Cores from each CPU's sibling list (a CPU without one is its own core), limited to
    ``online``; siblings lists that disagree are merged into one core."""
    core_of: dict[int, set[int]] = {}
    for cpu in sorted(online):
        group = {cpu} | (set(siblings.get(cpu, frozenset())) & set(online))
        merged = set(group)
        for member in group:
            merged |= core_of.get(member, set())
        for member in merged:
            core_of[member] = merged
    cores = {frozenset(c) for c in core_of.values()}
    ordered = tuple(sorted(cores, key=min))
    return Topology(
        online,
        ordered,
        {n: frozenset(c & online) for n, c in nodes.items() if c & online},
    )


def _cpulist(host: Host, path: str) -> CpuSet | None:
    text = host.read(path)
    if text is None:
        return None
    try:
        return parse_cpulist(text)
    except ValueError:
        return None


def topology_files(host: Host) -> list[str]:
    """The files :func:`read_topology` and :func:`nic_nodes` read under ``host``'s root."""
    paths = [
        f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list"
        for cpu in sorted(host.online_cpus())
    ]
    nodes = _numbered(host, "/sys/devices/system/node", "node", MAX_NODES)
    paths += [f"/sys/devices/system/node/node{n}/cpulist" for n in nodes]
    try:
        names = sorted(p.name for p in host.path("/sys/class/net").iterdir())
    except OSError:
        names = []
    paths += [f"/sys/class/net/{n}/device/numa_node" for n in names[:MAX_INTERFACES]]
    return paths


def read_topology(host: Host) -> Topology:
    """The topology under ``host``'s root (see the module docstring)."""
    online = host.online_cpus()
    siblings: dict[int, CpuSet] = {}
    for cpu in online:
        found = _cpulist(host, f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        if found is not None:
            siblings[cpu] = found
    nodes: dict[int, CpuSet] = {}
    for node in _numbered(host, "/sys/devices/system/node", "node", MAX_NODES):
        found = _cpulist(host, f"/sys/devices/system/node/node{node}/cpulist")
        if found:
            nodes[node] = found
    return make_topology(online, siblings, nodes)


def _numbered(host: Host, directory: str, prefix: str, limit: int) -> list[int]:
    try:
        names = [p.name for p in host.path(directory).iterdir()]
    except OSError:
        return []
    numbers = [n.removeprefix(prefix) for n in names if n.startswith(prefix)]
    return sorted(int(n) for n in numbers if n.isdigit())[:limit]


def nic_nodes(host: Host, names: list[str] | None) -> dict[str, int]:
    """The NUMA node of each NIC in ``names`` (None: every interface with a PCI device),
    as the kernel shows it; interfaces without a node (virtual, -1) are left out."""
    if names is None:
        try:
            entries = sorted(p.name for p in host.path("/sys/class/net").iterdir())
        except OSError:
            entries = []
        names = entries[:MAX_INTERFACES]
    found: dict[str, int] = {}
    for name in names:
        text = host.read(f"/sys/class/net/{name}/device/numa_node")
        if text is None:
            continue
        try:
            node = int(text.strip())
        except ValueError:
            continue
        if node >= 0:
            found[name] = node
    return found
