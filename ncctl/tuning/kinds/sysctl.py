"""``/proc/sys/...`` values: ``net.ipv4.*``/``net.ipv6.*`` are per network namespace,
everything else (``net.core.*``, ``vm.*``, ``kernel.*``) is host-wide; persisted in sysctl.d."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ncctl.errors import ConfigError
from ncctl.tuning.cpus import CpuPlan
from ncctl.tuning.host import Host
from ncctl.tuning.kinds.base import KernelSetting, Persistence, Scope, Verdict, value_spec
from ncctl.tuning.profiles import Profile

WEAKENING = {
    "net.ipv4.tcp_timestamps": "weakens PAWS (protection against wrapped sequence numbers) "
    "and RTT measurement",
    "net.ipv4.tcp_sack": "weakens loss recovery (a lost segment costs a whole window)",
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


def sysctl_path(name: str) -> str:
    rel = name if "/" in name else name.replace(".", "/")
    return "/proc/sys/" + rel.strip("/")


def sysctl_scope(name: str) -> Scope:
    dotted = name.replace("/", ".")
    if dotted.startswith(("net.ipv4.", "net.ipv6.", "net.unix.", "net.netfilter.")):
        return Scope.NETNS
    return Scope.HOST


SETTING = Sysctl
"""The class of this kind's settings."""


def expand(profile: Profile, host: Host, cpus: CpuPlan, warnings: list[str]) -> list[KernelSetting]:
    """One setting per key of the profile's ``[sysctl]`` table."""
    found: list[KernelSetting] = []
    for name, value in profile.table("sysctl").items():
        try:
            desired, fmt, why = value_spec(value, cpus)
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
