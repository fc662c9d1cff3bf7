"""What the tuning profile pins in the generated units: ncctl's own units on the housekeeping
CPUs, each component on the CPUs ``[cpus]`` gives it, and whether ``[pin] force_latency``
needs ``ncctl-latency.service`` (:mod:`ncctl.tuning.pinning`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ncctl.appconfig.model import NcctlConfig
from ncctl.errors import ConfigError
from ncctl.install.sandbox import absolute


@dataclass(frozen=True)
class Pins:
    """CPU lists as ``CPUAffinity=`` takes them (None: not pinned) and why not."""

    housekeeping: str | None = None
    components: dict[str, str] = field(default_factory=dict)
    force_latency: int | None = None
    problem: str = ""


def profile_pins(config: NcctlConfig, base: Path) -> Pins:
    """The pins of ``config``'s tuning profile on its tuning root; empty with the problem when
    the profile cannot be loaded or names CPUs this host does not have."""
    from ncctl.tuning.cpus import cpu_plan
    from ncctl.tuning.cpuset import format_cpulist
    from ncctl.tuning.host import Host
    from ncctl.tuning.pinning import component_cpus, pin_options
    from ncctl.tuning.profiles import load_profile

    try:
        profile = load_profile(config.tuning.profile)
    except ConfigError as err:
        return Pins(problem=err.message)
    latency = pin_options(profile).force_latency
    try:
        plan, _ = cpu_plan(profile, Host(absolute(config.tuning.root, base)))
    except ConfigError as err:
        return Pins(force_latency=latency, problem=err.message)
    except OSError as exc:
        problem = f"tuning.root {config.tuning.root}: cannot read the online CPUs: {exc}"
        return Pins(force_latency=latency, problem=problem)
    housekeeping = format_cpulist(plan.housekeeping)
    try:
        components = {n: format_cpulist(c) for n, c in component_cpus(profile, plan).items()}
    except ConfigError as err:
        return Pins(housekeeping, force_latency=latency, problem=err.message)
    return Pins(housekeeping, components, latency)
