"""What a profile pins, and where: its ``[pin]`` table and the components' CPUs of ``[cpus]``.

``[pin]``:

* ``irqbalance = "ban" | "stop" | "ignore"``: ``ban`` writes ``IRQBALANCE_BANNED_CPULIST``
  (the isolated CPUs) into ``/etc/default/irqbalance``; ``stop`` disables and stops
  ``irqbalance.service`` (rollback enables and starts it again); ``ignore`` (the default)
  leaves it alone, and the plan warns when it runs;
* ``kthreads = true``: movable kernel threads go to the housekeeping CPUs at apply and at
  every boot (:mod:`ncctl.tuning.kthreads`; not rolled back, reported);
* ``systemd_affinity = true``: ``CPUAffinity=`` of systemd itself (every service it starts
  inherits it) is the housekeeping set, in ``/etc/systemd/system.conf.d/ncctl-cpuaffinity.conf``;
* ``force_latency = N``: ``/dev/cpu_dma_latency`` held at N µs by ``ncctl-latency.service``
  (:mod:`ncctl.tuning.latency`).

``[cpus] COMPONENT = "auto" | CPUs`` gives a component (``order_session``, ``feed_handler``)
its CPUs for ``CPUAffinity=`` of its generated unit: ``auto`` is an isolated core of its own
(whole cores, ascending, in the order the table names the components), a set name
(``housekeeping``, ``isolated``) or a CPU list is taken as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from ncctl.errors import ConfigError
from ncctl.tuning.cpus import CpuPlan, resolve_cpus
from ncctl.tuning.cpuset import CpuSet, format_cpulist
from ncctl.tuning.profiles import CPU_KEYS, Profile


@dataclass(frozen=True)
class PinOptions:
    irqbalance: str = "ignore"
    kthreads: bool = False
    systemd_affinity: bool = False
    force_latency: int | None = None


def pin_options(profile: Profile) -> PinOptions:
    table = profile.table("pin")
    latency = table.get("force_latency")
    return PinOptions(
        irqbalance=str(table.get("irqbalance", "ignore")),
        kthreads=bool(table.get("kthreads", False)),
        systemd_affinity=bool(table.get("systemd_affinity", False)),
        force_latency=int(latency) if latency is not None else None,
    )


def component_cpus(profile: Profile, cpus: CpuPlan) -> dict[str, CpuSet]:
    """Each component the profile's ``[cpus]`` names, with its CPUs (see the module
    docstring); ConfigError when ``auto`` finds no isolated core left."""
    table = {k: str(v) for k, v in profile.table("cpus").items() if k not in CPU_KEYS}
    chosen: dict[str, CpuSet] = {}
    where = f"tuning profile {profile.source}"
    for name, spec in table.items():
        if spec.strip() == "auto":
            continue
        try:
            chosen[name] = resolve_cpus(spec, cpus)
        except ValueError as exc:
            raise ConfigError(f"{where}: cpus.{name}: {exc}", hint='"auto" or "3"') from None
        if not chosen[name] <= cpus.online:
            raise ConfigError(
                f"{where}: cpus.{name} {format_cpulist(chosen[name])} names CPUs that are not "
                f"online here (online: {format_cpulist(cpus.online)})",
                hint='use "auto" or a CPU list of this machine',
            )
    taken: set[int] = set().union(*chosen.values()) if chosen else set()
    cores = _isolated_cores(cpus)
    for name, spec in table.items():
        if spec.strip() != "auto":
            continue
        free = [c for c in cores if not c & taken]
        if not free:
            raise ConfigError(
                f'{where}: cpus.{name} = "auto": no isolated core is left for it '
                f"(isolated: {format_cpulist(cpus.isolated) or 'none'})",
                hint="isolate more cores, or give the component a CPU list",
            )
        chosen[name] = free[0]
        taken |= free[0]
    return {name: chosen[name] for name in table}


def _isolated_cores(cpus: CpuPlan) -> list[CpuSet]:
    """The isolated CPUs grouped by core (whole cores only), ascending."""
    if cpus.topology is None:
        return [frozenset({c}) for c in sorted(cpus.isolated)]
    return [core for core in cpus.topology.cores if core <= cpus.isolated]
